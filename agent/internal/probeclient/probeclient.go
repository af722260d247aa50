// Package probeclient speaks the probe's gRPC protocol over an already
// established connection (usually a container's attach stream). It owns the
// handshake policy (a probe of another protocol version is refused with a
// clear message) and is the one place on the agent side where gRPC status
// codes become Go errors (fromStatus).
package probeclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Errors the agent tells apart.
var (
	ErrProtocolMismatch = errors.New("probe protocol version mismatch")
	ErrProbeGone        = errors.New("the probe stopped answering")
	ErrTimeout          = errors.New("the probe did not answer in time")
	ErrRefused          = errors.New("the probe refused the request")
	ErrPermission       = errors.New("the probe lacks a permission")
)

// MaxReport bounds the size of one report on the wire (a host with tens of
// thousands of mounts stays well below it).
const MaxReport = 256 << 20

// Per-call bounds, below the caller's overall deadline: the handshake is
// one small message, so a probe that does not answer it quickly is stuck.
var HandshakeTimeout = 15 * time.Second

// Client is a connected probe.
type Client struct {
	cc  *grpc.ClientConn
	api probev1.ProbeClient
}

// Dial wraps a dial function that yields the connection to the probe. gRPC
// connects lazily, on the first call.
func Dial(dial func(context.Context, string) (net.Conn, error)) (*Client, error) {
	cc, err := grpc.NewClient("passthrough:///dockprobe-probe",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dial),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReport)),
		// An attach stream cannot be re-dialed; do not wait for a
		// reconnection that cannot happen.
		grpc.WithDisableRetry(),
		// A frozen or vanished probe (docker pause, a VM that stalls) is
		// noticed within 15 s even while a call waits (10 s is gRPC's
		// floor for the ping interval; the probe permits pings every
		// second).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                10 * time.Second,
			Timeout:             5 * time.Second,
			PermitWithoutStream: true,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("set up gRPC client: %w", err)
	}
	return &Client{cc: cc, api: probev1.NewProbeClient(cc)}, nil
}

// Close closes the gRPC connection (and with it the underlying stream).
func (c *Client) Close() error { return c.cc.Close() }

// Handshake checks that the probe speaks our protocol version.
func (c *Client) Handshake(ctx context.Context, agentVersion string) (*probev1.HandshakeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	resp, err := c.api.Handshake(ctx, &probev1.HandshakeRequest{
		AgentVersion:    agentVersion,
		ProtocolVersion: probev1.ProtocolVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", fromStatus(err))
	}
	if resp.GetProtocolVersion() != probev1.ProtocolVersion {
		return resp, fmt.Errorf("%w: probe %s speaks protocol %d, this agent speaks %d; use an agent and probe image of the same version (run `agent cleanup` and retry to reload the image)",
			ErrProtocolMismatch, resp.GetProbeVersion(), resp.GetProtocolVersion(), probev1.ProtocolVersion)
	}
	return resp, nil
}

// Collect asks for the report.
func (c *Client) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error) {
	resp, err := c.api.Collect(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", fromStatus(err))
	}
	if resp.GetReport() == nil {
		return nil, fmt.Errorf("collect: %w: empty answer", ErrProbeGone)
	}
	return resp.GetReport(), nil
}

// Watch opens the probe's stream of changes (the Watch service, on the
// same connection).
func (c *Client) Watch(ctx context.Context, req *probev1.WatchRequest) (probev1.Watch_WatchClient, error) {
	return probev1.NewWatchClient(c.cc).Watch(ctx, req)
}

// fromStatus is the one place where gRPC status codes become agent errors.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s", ErrTimeout, st.Message())
	case codes.Unavailable, codes.Canceled, codes.Aborted:
		return fmt.Errorf("%w: %s", ErrProbeGone, st.Message())
	case codes.InvalidArgument, codes.FailedPrecondition:
		return fmt.Errorf("%w: %s", ErrRefused, st.Message())
	case codes.PermissionDenied:
		return fmt.Errorf("%w: %s", ErrPermission, st.Message())
	}
	return fmt.Errorf("probe error (%s): %s", st.Code(), st.Message())
}
