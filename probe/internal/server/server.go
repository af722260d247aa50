// Package server serves the Probe gRPC service over the probe's own stdin and
// stdout. It owns the probe's lifetime on the wire: the one connection, the
// handshake, and the exit when the agent hangs up. It is also the one place
// on the probe side where Go errors become gRPC status codes (toStatus).
package server

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/dockprobe/dockprobe/probe/internal/watch"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Collector gathers a report. It never fails as a whole: section failures
// are recorded inside the report.
type Collector func(ctx context.Context, req *probev1.CollectRequest) *probev1.Report

// Options configure Serve.
type Options struct {
	In      io.ReadCloser
	Out     io.WriteCloser
	Collect Collector
	Version string
	// DrainTimeout bounds how long in-flight calls may finish after the
	// agent hangs up or ctx ends.
	DrainTimeout time.Duration
	Log          *slog.Logger
}

// ErrInvalidRequest marks a request the probe refuses to act on.
var ErrInvalidRequest = errors.New("invalid request")

// Serve answers gRPC on o.In/o.Out until the agent hangs up (stdin EOF or a
// closed stream) or ctx ends. It returns nil on a normal hang-up.
func Serve(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 3 * time.Second
	}
	conn := newStdioConn(o.In, o.Out)
	lis := newOneConnListener(conn)

	srv := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             time.Second,
			PermitWithoutStream: true,
		}),
		grpc.MaxRecvMsgSize(1<<20),
		grpc.MaxSendMsgSize(256<<20),
	)
	probev1.RegisterProbeServer(srv, &service{opts: o})
	probev1.RegisterWatchServer(srv, watch.New(o.Log))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	select {
	case <-conn.closed:
		o.Log.Debug("agent hung up")
	case <-ctx.Done():
		o.Log.Info("stopping", "reason", context.Cause(ctx))
	case err := <-served:
		if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(o.DrainTimeout):
		// Closing the stream first unblocks a read that gRPC itself
		// cannot interrupt (our pipes have no deadlines).
		conn.Close()
		srv.Stop()
	}
	lis.Close()
	conn.Close()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

type service struct {
	probev1.UnimplementedProbeServer
	opts Options
}

func (s *service) Handshake(ctx context.Context, req *probev1.HandshakeRequest) (*probev1.HandshakeResponse, error) {
	s.opts.Log.Debug("handshake", "agent", req.GetAgentVersion(), "protocol", req.GetProtocolVersion())
	return &probev1.HandshakeResponse{
		ProbeVersion:    s.opts.Version,
		ProtocolVersion: probev1.ProtocolVersion,
		Os:              runtime.GOOS,
		Arch:            runtime.GOARCH,
		Pid:             int32(os.Getpid()),
	}, nil
}

func (s *service) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.CollectResponse, error) {
	if req.GetTargetPid() < 0 {
		return nil, toStatus(fmt.Errorf("%w: target pid %d is negative", ErrInvalidRequest, req.GetTargetPid()))
	}
	rep := s.opts.Collect(ctx, req)
	if err := ctx.Err(); err != nil {
		return nil, toStatus(err)
	}
	// The probe's clock as it answers: the agent brackets it with its own
	// (vm.clock). Set here, not at collection, which may have been earlier
	// (--prefetch).
	if rep != nil {
		rep.ProbeClock = &probev1.ClockReading{Remote: timestamppb.Now()}
	}
	return &probev1.CollectResponse{Report: rep}, nil
}

// toStatus is the one place where probe errors become gRPC status codes.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalidRequest):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, os.ErrPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, os.ErrNotExist):
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
