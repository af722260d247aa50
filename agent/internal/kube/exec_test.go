package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/dockprobe/dockprobe/agent/internal/transport"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// fakeExecutor stands in for the remote process: it runs serve over the
// stream's stdin and stdout, as the exec'd probe would.
type fakeExecutor struct {
	serve func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error
}

func (f fakeExecutor) Stream(o remotecommand.StreamOptions) error {
	return f.StreamWithContext(context.Background(), o)
}

func (f fakeExecutor) StreamWithContext(ctx context.Context, o remotecommand.StreamOptions) error {
	return f.serve(ctx, o.Stdin, o.Stdout, o.Stderr)
}

func TestConnHalfClose(t *testing.T) {
	var log strings.Builder
	ex := fakeExecutor{func(_ context.Context, in io.Reader, out, errw io.Writer) error {
		fmt.Fprint(errw, "probe: serving\n")
		_, err := io.Copy(out, in) // ends only on stdin EOF
		fmt.Fprint(errw, "probe: stdin closed\n")
		return err
	}}
	c := NewConn(context.Background(), ex, "dockprobe", &log)
	if l, r := c.LocalAddr(), c.RemoteAddr(); l.String() != "pods/exec" || r.Network() != "pods/exec" {
		t.Errorf("addresses %s/%s, %s/%s; want pods/exec", l.Network(), l, r.Network(), r)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q %v", b, err)
	}
	if err := c.Err(); err != nil {
		t.Errorf("a clean end: %v", err)
	}
	if log.String() != "probe: serving\nprobe: stdin closed\n" {
		t.Errorf("stderr %q", log.String())
	}
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func TestConnErrors(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "p", errors.New(`User "bob" cannot create resource "pods/exec"`))
	for _, tc := range []struct {
		name    string
		err     error
		want    error
		mention string
	}{
		{"forbidden", &httpstream.UpgradeFailureError{Cause: forbidden}, ErrForbidden, "create pods/exec in namespace dockprobe"},
		{"exit status", exec.CodeExitError{Err: errors.New("command terminated with non-zero exit code"), Code: 3}, ErrPodFailed, "status 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConn(context.Background(), fakeExecutor{func(context.Context, io.Reader, io.Writer, io.Writer) error { return tc.err }}, "dockprobe", nil)
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("read succeeded")
			}
			if err := c.Err(); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Err %v, want %v mentioning %q", err, tc.want, tc.mention)
			}
			c.Close()
		})
	}
}

func TestConnCloseEndsAStuckStream(t *testing.T) {
	old := Grace
	Grace = 10 * time.Millisecond
	defer func() { Grace = old }()
	sawCancel := make(chan struct{})
	ex := fakeExecutor{func(ctx context.Context, _ io.Reader, _, _ io.Writer) error {
		<-ctx.Done() // ignores stdin EOF: only the cancel ends it
		close(sawCancel)
		return ctx.Err()
	}}
	c := NewConn(context.Background(), ex, "dockprobe", nil)
	c.Close()
	<-sawCancel
	if err := c.Err(); err != nil {
		t.Errorf("our own Close is a clean end: %v", err)
	}
}

// probeServer answers the handshake, as the exec'd probe does.
type probeServer struct {
	probev1.UnimplementedProbeServer
}

func (probeServer) Handshake(context.Context, *probev1.HandshakeRequest) (*probev1.HandshakeResponse, error) {
	return &probev1.HandshakeResponse{ProbeVersion: "test", ProtocolVersion: probev1.ProtocolVersion}, nil
}

// stdioConn is the probe's side: its stdin and stdout as a net.Conn.
type stdioConn struct {
	transport.Carrier
	io.Reader
	io.Writer
	once   sync.Once
	closed chan struct{}
}

func (c *stdioConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// oneConnListener accepts one connection, then blocks until closed.
type oneConnListener struct {
	conn   chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conn:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return transport.Addr("stdio") }

// TestGRPCOverConn runs a gRPC call over a Conn the way the launcher will:
// a passthrough target and a single-use context dialer.
func TestGRPCOverConn(t *testing.T) {
	ex := fakeExecutor{func(ctx context.Context, in io.Reader, out, _ io.Writer) error {
		sc := &stdioConn{Carrier: "stdio", Reader: in, Writer: out, closed: make(chan struct{})}
		l := &oneConnListener{conn: make(chan net.Conn, 1), closed: make(chan struct{})}
		l.conn <- sc
		srv := grpc.NewServer()
		probev1.RegisterProbeServer(srv, probeServer{})
		go srv.Serve(l)
		select {
		case <-sc.closed: // the agent hung up: gRPC closed the transport
		case <-ctx.Done():
		}
		srv.Stop()
		return nil
	}}
	c := NewConn(context.Background(), ex, "dockprobe", nil)
	dial := transport.SingleUseDialer(c)
	cc, err := grpc.NewClient("passthrough:///dockprobe-probe", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := probev1.NewProbeClient(cc).Handshake(ctx, &probev1.HandshakeRequest{ProtocolVersion: probev1.ProtocolVersion})
	if err != nil || resp.GetProbeVersion() != "test" {
		t.Fatalf("handshake %v %v", resp, err)
	}
	if _, err := dial(ctx, ""); !errors.Is(err, transport.ErrAlreadyDialed) {
		t.Errorf("second dial: %v", err)
	}
	cc.Close()
	if err := c.Err(); err != nil {
		t.Errorf("stream end: %v", err)
	}
}

func TestShouldFallback(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&httpstream.UpgradeFailureError{Cause: errors.New("websocket: bad handshake (400 Bad Request)")}, true},
		{fmt.Errorf("exec: %w", &httpstream.UpgradeFailureError{Cause: errors.New("x")}), true},
		{errors.New("proxy: unknown scheme: https"), true},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := ShouldFallback(tc.err); got != tc.want {
			t.Errorf("%v: %v", tc.err, got)
		}
	}
}

func TestExecURL(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "t"}
	u, err := ExecURL(cfg, "dockprobe", "dockprobe-w-1", ServeCommand(time.Minute, false))
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/api/v1/namespaces/dockprobe/pods/dockprobe-w-1/exec" {
		t.Errorf("path %s", u.Path)
	}
	q := u.Query()
	if strings.Join(q["command"], " ") != "/probe --deadline=1m0s --notify-wait" || q.Get("container") != "probe" ||
		q.Get("stdin") != "true" || q.Get("stdout") != "true" || q.Get("stderr") != "true" || q.Get("tty") == "true" {
		t.Errorf("query %v", q)
	}
	if _, err := NewExecutor(cfg, u); err != nil {
		t.Error(err)
	}
}
