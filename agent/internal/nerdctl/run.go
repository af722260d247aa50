package nerdctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/cmdconn"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// EnsureImage makes sure containerd has the probe image with exactly the
// embedded binary, loading it with `nerdctl load` from the in-memory
// docker-archive when it does not. It reports whether it loaded.
func (c *Client) EnsureImage(ctx context.Context, im *probeimage.Image, version string) (bool, error) {
	out, err := c.run(ctx, nil, "image", "inspect", "--format", "{{json .Config.Labels}}", im.Ref)
	if err == nil {
		var labels map[string]string
		if json.Unmarshal(bytes.TrimSpace(out), &labels) == nil && labels[probeimage.LabelContent] == im.Digest {
			return false, nil
		}
	}
	archive, err := im.Archive(version)
	if err != nil {
		return false, fmt.Errorf("build probe image: %w", err)
	}
	if _, err := c.run(ctx, bytes.NewReader(archive), "load"); err != nil {
		return false, fmt.Errorf("%w: %w", launch.ErrImageLoad, err)
	}
	return true, nil
}

// RunArgs is the `nerdctl run` command line for the probe: the Docker
// launcher's container configuration (launch.ContainerConfig) spelled as
// nerdctl flags, so both runtimes grant exactly the same: --pid host, no
// network, read-only root, no-new-privileges, every capability dropped but
// launch.Capabilities, memory and pids limits, and the probe's labels.
// The host-gateway name is left out: containerd has no host-gateway IP of
// its own (nerdctl would guess one on the client's machine).
func RunArgs(o launch.Options) []string {
	cfg, hc := launch.ContainerConfig(o)
	a := []string{"run", "-i", "--rm", "--name", o.Name,
		"--pid", string(hc.PidMode),
		"--net", "none",
	}
	if hc.ReadonlyRootfs {
		a = append(a, "--read-only")
	}
	if hc.Privileged {
		a = append(a, "--privileged")
	}
	for _, c := range hc.CapDrop {
		a = append(a, "--cap-drop", c)
	}
	for _, c := range hc.CapAdd {
		a = append(a, "--cap-add", c)
	}
	for _, s := range hc.SecurityOpt {
		a = append(a, "--security-opt", s)
	}
	if m := hc.Resources.Memory; m > 0 {
		a = append(a, "--memory", strconv.FormatInt(m, 10))
	}
	if p := hc.Resources.PidsLimit; p != nil && *p > 0 {
		a = append(a, "--pids-limit", strconv.FormatInt(*p, 10))
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Labels)) {
		a = append(a, "--label", k+"="+cfg.Labels[k])
	}
	a = append(a, cfg.Image)
	return append(a, cfg.Cmd...)
}

// Session is a running probe with a connected client.
type Session struct {
	Name   string
	Client *probeclient.Client
	Hello  *probev1.HandshakeResponse

	c        *Client
	conn     *cmdconn.Conn
	log      *tailWriter
	guard    *watchdog
	version  string
	progress func(string)
}

// Start runs the probe (`nerdctl run -i --rm ...`) and completes the
// handshake over the nerdctl process's stdio. On any error the probe is
// gone when Start returns.
func Start(ctx context.Context, c *Client, o launch.Options) (*Session, error) {
	s, err := start(ctx, c, o)
	if err != nil {
		return nil, err
	}
	if _, err := s.Handshake(ctx); err != nil {
		s.Abort()
		return nil, err
	}
	return s, nil
}

// start runs the probe and connects a probe client over the nerdctl
// process's stdio without calling it yet. On any error the probe is gone
// when start returns.
func start(ctx context.Context, c *Client, o launch.Options) (_ *Session, err error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if o.Name == "" {
		o.Name = launch.NewName()
	}
	logw := o.ProbeLog
	if logw == nil {
		logw = io.Discard
	}
	s := &Session{Name: o.Name, c: c, log: &tailWriter{w: logw}, version: o.Version}
	// The watchdog first: an agent killed at any moment after this, even
	// inside the next call, still has its container removed.
	s.guard = startWatchdog(c, o.Name)
	if o.Starting != nil {
		o.Starting()
	}
	progress("nerdctl run")
	s.conn, err = cmdconn.Start(ctx, s.log, c.Path, c.Args(RunArgs(o)...)...)
	if err != nil {
		s.guard.dismiss() // nerdctl never ran: there is nothing to remove
		return nil, fmt.Errorf("%w: %w", launch.ErrStart, err)
	}
	s.guard.watch(s.conn.Pid())
	defer func() {
		if err != nil {
			s.Abort()
		}
	}()
	used := false
	var mu sync.Mutex
	s.Client, err = probeclient.Dial(func(context.Context, string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		if used {
			return nil, errors.New("the probe's stdio is already in use")
		}
		used = true
		return s.conn, nil
	})
	if err != nil {
		return nil, err
	}
	s.progress = progress
	return s, nil
}

// Handshake checks that the probe speaks the agent's protocol and records
// its answer in s.Hello. It does not remove the container on failure.
func (s *Session) Handshake(ctx context.Context) (_ *probev1.HandshakeResponse, err error) {
	s.progress("handshake")
	s.Hello, err = s.Client.Handshake(ctx, s.version)
	if err != nil {
		return nil, s.explain(err)
	}
	return s.Hello, nil
}

// Watch opens the probe's stream of changes.
func (s *Session) Watch(ctx context.Context, req *probev1.WatchRequest) (probev1.Watch_WatchClient, error) {
	return s.Client.Watch(ctx, req)
}

// explain says why the stream ended: nerdctl's own last words are the
// reason a run was refused (bad flag, image missing, runc error).
func (s *Session) explain(err error) error {
	if !errors.Is(err, probeclient.ErrProbeGone) {
		return err
	}
	select {
	case <-s.conn.Done():
	case <-time.After(2 * time.Second):
		return err
	}
	msg := s.log.last()
	if msg == "" {
		return fmt.Errorf("%w (nerdctl run ended: %v; rerun with --debug to see the probe's log)", err, s.conn.ExitErr())
	}
	if s.log.fatal() {
		// nerdctl's own fatal error: it never got the probe running.
		return fmt.Errorf("%w: nerdctl run: %s", launch.ErrStart, msg)
	}
	return fmt.Errorf("%w (nerdctl run: %s)", err, msg)
}

// Collect asks the probe for its report.
func (s *Session) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error) {
	rep, err := s.Client.Collect(ctx, req)
	if err != nil {
		return nil, s.explain(err)
	}
	return rep, nil
}

// Close hangs up: the probe exits on stdin EOF and nerdctl removes the
// container (--rm) before it exits itself. When nerdctl had to be
// signalled, the container is removed by name as well.
func (s *Session) Close() error {
	if s.Client != nil {
		s.Client.Close()
	}
	if err := s.conn.Close(); err != nil {
		s.remove()
		s.guard.dismiss()
		return err
	}
	s.guard.dismiss()
	return nil
}

// Abort ends the run now and makes sure the container is gone; the removal
// is the watchdog's when there is one, so the agent does not wait for it.
func (s *Session) Abort() {
	if s.Client != nil {
		s.Client.Close()
	}
	if s.guard == nil {
		s.conn.Close()
		s.remove()
		return
	}
	s.conn.CloseWrite()
	s.guard.release()
}

// remove force-removes the container by name with its own deadline, so
// that a cancelled run still cleans up; "no such container" is success.
func (s *Session) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := s.c.run(ctx, nil, "rm", "-f", s.Name); err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
		fmt.Fprintf(s.log.w, "warning: could not remove probe container %s: %v\n", s.Name, err)
	}
}

// tailWriter passes nerdctl's stderr (which carries the probe's log) on
// and keeps its last line, to explain a run that ended early.
type tailWriter struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	t.mu.Unlock()
	return t.w.Write(p)
}

func (t *tailWriter) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLine(string(t.buf))
}

// fatal reports whether nerdctl itself gave up (logrus level=fatal), as
// opposed to the probe logging and exiting.
func (t *tailWriter) fatal() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Contains(t.buf, []byte("level=fatal"))
}
