package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/dockprobe/dockprobe/agent/internal/transport"
)

// ExecURL is the pods/exec URL that runs command in the probe container
// with stdin, stdout and stderr and no TTY (a TTY would mangle gRPC).
func ExecURL(cfg *rest.Config, namespace, pod string, command []string) (*url.URL, error) {
	rc, err := rest.RESTClientFor(groupConfig(cfg, "/api", corev1.SchemeGroupVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return rc.Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: ContainerName,
			Command:   command,
			Stdin:     true,
			Stdout:    true,
			Stderr:    true,
			TTY:       false,
		}, codecs().params).URL(), nil
}

// ShouldFallback is kubectl's predicate for falling back from WebSocket to
// SPDY: the upgrade failed (a server without the v5 protocol) or the
// proxy is HTTPS (gorilla/websocket cannot use one). It must be the
// k8s.io/streaming copy of the predicates: apimachinery's older copies
// never match client-go's errors, and the fallback then never fires.
func ShouldFallback(err error) bool {
	return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
}

// NewExecutor returns the executor for one exec: WebSocket (v5, which can
// half-close stdin) first, SPDY when the upgrade fails. It never falls
// back mid-stream. One executor serves one stream.
//
// When both fail, the error carries both: SPDY's upgrade error is only
// text ("unable to upgrade connection: ... is forbidden"), while the
// WebSocket attempt's holds the server's status (403 and its reason), which
// is what says which permission is missing.
func NewExecutor(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("websocket executor: %w", err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("spdy executor: %w", err)
	}
	e := &fallback{}
	e.Executor, err = remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		fb := ShouldFallback(err)
		if fb {
			e.primary = err
		}
		return fb
	})
	return e, err
}

// fallback remembers why the WebSocket attempt failed.
type fallback struct {
	remotecommand.Executor
	primary error // set when it fell back (one stream per executor)
}

func (f *fallback) StreamWithContext(ctx context.Context, o remotecommand.StreamOptions) error {
	err := f.Executor.StreamWithContext(ctx, o)
	if err != nil && f.primary != nil && err != f.primary {
		return &bothFailed{websocket: f.primary, spdy: err}
	}
	return err
}

// bothFailed is a failed WebSocket upgrade followed by a failed SPDY one.
type bothFailed struct{ websocket, spdy error }

func (b *bothFailed) Error() string {
	return fmt.Sprintf("%v; over SPDY: %v", b.websocket, b.spdy)
}

func (b *bothFailed) Unwrap() []error { return []error{b.websocket, b.spdy} }

// Grace is how long Close waits for the probe to end after its stdin was
// closed before it tears the stream down.
var Grace = 5 * time.Second

// Conn is one exec stream as a net.Conn: writes go to the exec'd probe's
// stdin, reads come from its stdout, its stderr goes to the writer given
// to Dial. It is single-use (see transport.SingleUseDialer).
type Conn struct {
	transport.Carrier // "pods/exec": its addresses and (ignored) deadlines

	stdinW  *io.PipeWriter
	stdoutR *io.PipeReader
	cancel  context.CancelFunc

	done chan struct{}
	err  error // set before done is closed

	namespace string
	closeOnce sync.Once
}

// ExecOptions names the pod and command of one exec.
type ExecOptions struct {
	Namespace string
	Pod       string
	Command   []string
	// Stderr receives the probe's log. It should not block: the WebSocket
	// executor's single demux loop stalls stdout while it does. Nil
	// discards.
	Stderr io.Writer
}

// Exec starts the probe's server in the pod over pods/exec and returns its
// stdio as a Conn. The stream is set up in the background: a refused
// exec (403, a missing pod) shows as a read error, and Err says why.
func Exec(ctx context.Context, cfg *rest.Config, o ExecOptions) (*Conn, error) {
	u, err := ExecURL(cfg, o.Namespace, o.Pod, o.Command)
	if err != nil {
		return nil, err
	}
	ex, err := NewExecutor(cfg, u)
	if err != nil {
		return nil, err
	}
	return NewConn(ctx, ex, o.Namespace, o.Stderr), nil
}

// NewConn streams over ex in the background. ctx carries values only: the
// stream lives until Close, or until the remote process ends.
func NewConn(ctx context.Context, ex remotecommand.Executor, namespace string, stderr io.Writer) *Conn {
	if stderr == nil {
		stderr = io.Discard
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Conn{Carrier: "pods/exec", stdinW: inW, stdoutR: outR, cancel: cancel, done: make(chan struct{}), namespace: namespace}
	go func() {
		err := ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Stderr: stderr})
		c.err = c.streamError(err)
		rerr := c.err
		if rerr == nil {
			rerr = io.EOF
		}
		outW.CloseWithError(rerr)
		inR.CloseWithError(rerr)
		close(c.done)
	}()
	return c
}

// streamError says why the stream ended in terms the user can act on.
func (c *Conn) streamError(err error) error {
	if err == nil {
		return nil
	}
	var ce exec.CodeExitError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: the probe exited with status %d", ErrPodFailed, ce.Code)
	}
	if errors.Is(err, context.Canceled) {
		return nil // our own Close
	}
	return apiError(err, "create", "pods/exec", c.namespace)
}

// Read reads the probe's stdout.
func (c *Conn) Read(p []byte) (int, error) { return c.stdoutR.Read(p) }

// Write writes to the probe's stdin.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.stdinW.Write(p)
	if errors.Is(err, io.ErrClosedPipe) {
		err = net.ErrClosed
	}
	return n, err
}

// CloseWrite closes the probe's stdin (a WebSocket v5 CLOSE or an SPDY
// half-close); the probe exits on it.
func (c *Conn) CloseWrite() error { return c.stdinW.Close() }

// Close half-closes first, so that the probe ends by itself, waits up to
// Grace for the stream to end (draining what the probe still writes), then
// tears it down.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.stdinW.Close()
		go io.Copy(io.Discard, c.stdoutR)
		t := time.NewTimer(Grace)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
		c.cancel()
		c.stdoutR.Close()
	})
	return nil
}

// Done is closed when the stream has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the stream ended (nil for a clean end or our own Close);
// it waits for the end.
func (c *Conn) Err() error { <-c.done; return c.err }

var _ net.Conn = (*Conn)(nil)
