package server

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// pipeConn is the agent's view: it writes the probe's stdin and reads its
// stdout.
type pipeConn struct {
	io.Reader
	io.WriteCloser
}

func (pipeConn) LocalAddr() net.Addr              { return stdioAddr{} }
func (pipeConn) RemoteAddr() net.Addr             { return stdioAddr{} }
func (pipeConn) SetDeadline(time.Time) error      { return nil }
func (pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (pipeConn) SetWriteDeadline(time.Time) error { return nil }

func startProbe(t *testing.T, collect Collector) (probev1.ProbeClient, *grpc.ClientConn, chan error) {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(t.Context(), Options{In: stdinR, Out: stdoutW, Collect: collect, Version: "test", DrainTimeout: time.Second})
	}()
	conn := pipeConn{Reader: stdoutR, WriteCloser: stdinW}
	used := false
	cc, err := grpc.NewClient("passthrough:///probe",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			if used {
				return nil, io.ErrClosedPipe
			}
			used = true
			return conn, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return probev1.NewProbeClient(cc), cc, done
}

func TestServeHandshakeCollectAndHangUp(t *testing.T) {
	var gotHint string
	api, cc, done := startProbe(t, func(ctx context.Context, req *probev1.CollectRequest) *probev1.Report {
		gotHint = req.GetHint().GetDockerRootDir()
		return &probev1.Report{Target: &probev1.Target{Pid: 143, Method: "data-root"}}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	hello, err := api.Handshake(ctx, &probev1.HandshakeRequest{AgentVersion: "a", ProtocolVersion: probev1.ProtocolVersion})
	if err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	if hello.GetProtocolVersion() != probev1.ProtocolVersion || hello.GetProbeVersion() != "test" {
		t.Errorf("Handshake = %v", hello)
	}
	resp, err := api.Collect(ctx, &probev1.CollectRequest{Hint: &probev1.TargetHint{DockerRootDir: "/var/lib/docker"}})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if resp.GetReport().GetTarget().GetPid() != 143 || gotHint != "/var/lib/docker" {
		t.Errorf("Collect = %v (hint %q)", resp, gotHint)
	}

	_, err = api.Collect(ctx, &probev1.CollectRequest{TargetPid: -1})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Collect(pid -1) code = %v, want InvalidArgument", status.Code(err))
	}

	// Hanging up (closing the connection) must end Serve promptly.
	cc.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after hang-up = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of the agent hanging up")
	}
}

func TestServeEndsAtContextDeadline(t *testing.T) {
	stdinR, _ := io.Pipe() // the agent never writes nor hangs up
	_, stdoutW := io.Pipe()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Serve(ctx, Options{In: stdinR, Out: stdoutW, Collect: nil, DrainTimeout: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("Serve returned nil at its deadline, want the cause")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Serve took %s to stop at a 200ms deadline", d)
	}
}
