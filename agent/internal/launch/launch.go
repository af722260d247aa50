// Package launch runs the probe on a Docker engine and always cleans up
// after it. Its Docker type is the Docker runtime's launcher.Launcher. It
// makes sure the probe image is present (loading it from the agent's own
// archive, never pulling), creates the least-privileged container the
// probe needs, attaches to its stdio before starting it, hands back a
// connected probe client, and guards the container with a watchdog process
// (package reaper) that removes it if the agent dies. It does not render or
// interpret reports, and does not choose the runtime (the cli does).
package launch

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/agent/internal/transport"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// API is the part of the engine's API that launching needs;
// *client.Client implements it.
type API interface {
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (client.ImageLoadResult, error)
	ContainerCreate(ctx context.Context, opts client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerAttach(ctx context.Context, id string, opts client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	ContainerStart(ctx context.Context, id string, opts client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerRemove(ctx context.Context, id string, opts client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
}

// Labels on every probe container, so that the agent can find its own.
const (
	LabelProbe    = "io.dockprobe.probe"
	LabelAgentPID = "io.dockprobe.agent.pid"
	LabelCreated  = "io.dockprobe.created"
	// LabelAgentHost is the hostname of the agent's machine: the agent pid
	// means something only there.
	LabelAgentHost = "io.dockprobe.agent.host"
	// LabelDeadline is the Unix time by which the probe has ended by
	// itself (its hard deadline plus its backstop); a probe container
	// still present well after it is stale whatever its agent does.
	LabelDeadline = "io.dockprobe.deadline"
	NamePrefix    = "dockprobe-probe-"
)

// Backstop is how long after its --deadline the probe process forces its
// own exit (probe/internal/cli); the agent counts it into LabelDeadline.
const Backstop = 5 * time.Second

// Capabilities the probe needs, and why (see SECURITY.md):
//   - SYS_PTRACE: reading /proc/<pid>/{root,exe,ns/*} of dockerd, a process
//     with more capabilities than the probe, passes the kernel's ptrace
//     access check only with it;
//   - SYS_ADMIN: setns(2) into dockerd's network and UTS namespaces.
var Capabilities = []string{"SYS_ADMIN", "SYS_PTRACE"}

// HostGatewayName is the name mapped to "host-gateway" in the probe's
// /etc/hosts; the engine resolves it to its own host-gateway IP.
const HostGatewayName = launcher.HostGatewayName

// Errors of launching, each a distinct failure class for the CLI.
var (
	ErrImageLoad = errors.New("the engine refused to load the probe image")
	ErrCreate    = errors.New("the engine refused to create the probe container")
	ErrStart     = errors.New("the engine refused to start the probe container")
	ErrAttach    = errors.New("could not attach to the probe container")
	// ErrIsolation is a create refused by Docker Desktop's Enhanced
	// Container Isolation (sysbox), which forbids --pid=host.
	ErrIsolation = errors.New("Enhanced Container Isolation blocks the probe")
)

// isolationMessage is what sysbox answers to --pid=host under Docker
// Desktop's Enhanced Container Isolation.
const isolationMessage = "sysbox containers can't share namespaces"

// Options of one probe run: launcher's, with the image to run and how to
// remove the container after a failure.
type Options struct {
	launcher.Options
	Image *probeimage.Image
	// Remove, when set, replaces the synchronous force-removal after a
	// failed start (for a caller that hands removal to a watchdog and
	// must not wait for it).
	Remove func(idOrName string)
}

// Session is a started probe container with a connected client.
type Session struct {
	ID     string
	Name   string
	Client *probeclient.Client
	Hello  *probev1.HandshakeResponse

	api    API
	conn   *transport.Conn
	remove func(string)
}

// EnsureImage makes sure the engine has the probe image with exactly the
// embedded binary, loading it from an archive streamed out of the embedded
// binary when it does not.
// It reports whether it loaded.
func EnsureImage(ctx context.Context, api API, im *probeimage.Image, version string) (bool, error) {
	res, err := api.ImageInspect(ctx, im.Ref)
	return EnsureInspected(ctx, api, im, version, res, err)
}

// EnsureInspected is EnsureImage for a caller that already inspected
// im.Ref (res, err are ImageInspect's answer): the inspect needs only the
// image's name, so it can run before the engine's architecture is known.
func EnsureInspected(ctx context.Context, api API, im *probeimage.Image, version string, res client.ImageInspectResult, err error) (bool, error) {
	if err == nil && res.Config != nil && res.Config.Labels[probeimage.LabelContent] == im.Digest {
		return false, nil
	}
	if err != nil && !cerrdefs.IsNotFound(err) {
		return false, fmt.Errorf("inspect probe image %s: %w", im.Ref, err)
	}
	// The archive is streamed into the request as it is written: built
	// in memory first, it doubled the agent's peak RSS.
	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		err := im.WriteArchive(pw, version)
		pw.CloseWithError(err)
		writeErr <- err
	}()
	resp, err := api.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err == nil {
		err = loadErrors(resp)
		resp.Close()
	}
	// However the load ended (the engine need not read the archive's
	// trailing zero blocks), the writer is unblocked and has finished.
	pr.Close()
	werr := <-writeErr
	if err != nil {
		if werr != nil && !errors.Is(werr, io.ErrClosedPipe) && !errors.Is(werr, err) {
			return false, fmt.Errorf("build probe image: %w", werr)
		}
		return false, fmt.Errorf("%w: %w", ErrImageLoad, err)
	}
	return true, nil
}

// loadErrors reads the load's JSON message stream and returns the first
// error it reports.
func loadErrors(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("read load response: %w", err)
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

// NewName returns a fresh probe container name; it is chosen before create
// so that a run interrupted at any moment can still be found by name.
func NewName() string {
	var b [6]byte
	rand.Read(b[:])
	return NamePrefix + hex.EncodeToString(b[:])
}

// ContainerConfig is the probe container's configuration: --pid=host,
// --network none, read-only root, no-new-privileges, every capability
// dropped except Capabilities, AutoRemove, and labels marking it ours.
func ContainerConfig(o Options) (*container.Config, *container.HostConfig) {
	cmd := []string{"--deadline", o.Deadline.String()}
	if o.Debug {
		cmd = append(cmd, "--debug")
	}
	if o.Prefetch {
		cmd = append(cmd, "--prefetch")
		if o.TargetPID > 0 {
			cmd = append(cmd, "--target-pid", strconv.Itoa(o.TargetPID))
		}
	}
	cfg := &container.Config{
		Image:        o.Image.Ref,
		Cmd:          cmd,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		OpenStdin:    true,
		StdinOnce:    true,
		Tty:          false,
		Labels: map[string]string{
			LabelProbe:              "true",
			probeimage.LabelVersion: o.Version,
			LabelAgentPID:           strconv.Itoa(os.Getpid()),
			LabelCreated:            strconv.FormatInt(time.Now().Unix(), 10),
			LabelAgentHost:          hostname(),
			LabelDeadline:           strconv.FormatInt(time.Now().Add(o.Deadline+Backstop).Unix(), 10),
		},
	}
	pids := int64(64)
	hc := &container.HostConfig{
		PidMode:        "host",
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		AutoRemove:     true,
		CapDrop:        []string{"ALL"},
		CapAdd:         Capabilities,
		// AppArmor: the docker-default profile allows ptrace (and so
		// /proc/<pid>/root, exe, ns) only between its own confined
		// processes; dockerd is unconfined, so the probe must be too.
		SecurityOpt: []string{"no-new-privileges", "apparmor=unconfined"},
		ExtraHosts:  []string{HostGatewayName + ":host-gateway"},
		LogConfig:   container.LogConfig{Type: "none"},
		Resources: container.Resources{
			Memory:    256 << 20,
			PidsLimit: &pids,
		},
	}
	if o.Privileged {
		hc.Privileged = true
		hc.CapDrop, hc.CapAdd = nil, nil
	}
	return cfg, hc
}

// Start creates, attaches and starts the probe container and completes the
// handshake. On any error the container is removed before Start returns
// (or handed to o.Remove).
func Start(ctx context.Context, api API, o Options) (*Session, error) {
	s, err := Create(ctx, api, o)
	if err != nil {
		return nil, err
	}
	if err := s.Begin(ctx, o); err != nil {
		return nil, err
	}
	if err := s.Handshake(ctx, o); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// Begin attaches to and starts a container made by Create and connects a
// probe client over its stdio; no call is made yet, so that the caller can
// send its first calls together (Handshake and Collect in flight at once
// save a round trip through the engine). On any error the container is
// removed before Begin returns (or handed to o.Remove).
func (s *Session) Begin(ctx context.Context, o Options) (err error) {
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	if err := s.attachStart(ctx, o); err != nil {
		return err
	}
	pc, err := probeclient.Dial(transport.SingleUseDialer(s.conn))
	if err != nil {
		return err
	}
	s.Client = pc
	return nil
}

// Handshake checks that the probe speaks the agent's protocol and records
// its answer in s.Hello. It does not remove the container on failure.
func (s *Session) Handshake(ctx context.Context, o Options) (err error) {
	o.Step("handshake")
	s.Hello, err = s.Client.Handshake(ctx, o.Version)
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// Launch creates, attaches and starts the container and returns the
// session with its raw stream (Conn) but no gRPC client: the transport
// tests use it to push arbitrary bytes through a real attach stream. On
// any error the container is removed before Launch returns.
func Launch(ctx context.Context, api API, o Options) (*Session, error) {
	s, err := Create(ctx, api, o)
	if err != nil {
		return nil, err
	}
	if err := s.attachStart(ctx, o); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// Create creates the probe container and neither attaches nor starts it:
// a caller may create while it still checks the image and the engine's
// architecture, and throw the container away (Discard) when they turn out
// wrong. A failed create is removed by name (it may have happened on the
// engine's side of the wire).
func Create(ctx context.Context, api API, o Options) (*Session, error) {
	if o.Name == "" {
		o.Name = NewName()
	}
	cfg, hc := ContainerConfig(o)
	remove := o.Remove
	if remove == nil {
		remove = func(idOrName string) { removeNow(api, idOrName) }
	}
	o.Step("create")
	created, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: o.Name, Config: cfg, HostConfig: hc})
	if err != nil {
		remove(o.Name)
		return nil, refused(ErrCreate, "create", err)
	}
	o.Step("created")
	return &Session{ID: created.ID, Name: o.Name, api: api, remove: remove}, nil
}

// Discard removes a created, never started container now and waits for
// the removal, so that its name is free again.
func (s *Session) Discard() { removeNow(s.api, s.ID) }

// attachStart attaches to the created container's stdio and starts it.
func (s *Session) attachStart(ctx context.Context, o Options) error {
	o.Step("attach")
	att, err := s.api.ContainerAttach(ctx, s.ID, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return refused(ErrAttach, "attach", err)
	}
	s.conn = transport.NewConn(hijacked{att.HijackedResponse}, o.Log())

	o.Step("start")
	if o.Starting != nil {
		o.Starting()
	}
	if _, err := s.api.ContainerStart(ctx, s.ID, client.ContainerStartOptions{}); err != nil {
		return refused(ErrStart, "start", err)
	}
	return nil
}

// refused classifies a failed create, attach or start: Enhanced Container
// Isolation's refusal, an engine that went away mid-call (restarting,
// crashed), or the engine's own refusal.
func refused(class error, step string, err error) error {
	switch {
	case strings.Contains(err.Error(), isolationMessage):
		return fmt.Errorf("%w: it refuses --pid=host, which the probe needs to see the VM (%w); the engine's facts are still reported", ErrIsolation, err)
	case client.IsErrConnectionFailed(err):
		return fmt.Errorf("%w: the engine stopped answering during %s (restarting?): %w", engine.ErrEngineUnreachable, step, err)
	}
	return fmt.Errorf("%w: %w", class, err)
}

// Conn is the session's raw stream: writes reach the container's stdin,
// reads return its demultiplexed stdout.
func (s *Session) Conn() *transport.Conn { return s.conn }

// Abort hangs up and has the container removed now, whatever state it is
// in.
func (s *Session) Abort() { s.abort() }

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// explain adds why the stream ended when the probe stopped answering.
func (s *Session) explain(err error) error {
	if !errors.Is(err, probeclient.ErrProbeGone) || s.conn == nil {
		return err
	}
	select {
	case <-s.conn.Done():
		if cause := s.conn.Err(); cause != nil && cause != io.EOF {
			return fmt.Errorf("%w (attach stream: %w)", err, cause)
		}
		return fmt.Errorf("%w (the probe exited; rerun with --debug to see its log)", err)
	default:
		return err
	}
}

// Now is the agent's clock; tests replace it.
var Now = time.Now

// Collect asks the probe for its report.
// The agent's clock around the call brackets the probe's own answer
// time (Report.probe_clock), for the clock check.
func (s *Session) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error) {
	asked := Now()
	rep, err := s.Client.Collect(ctx, req)
	if err != nil {
		return nil, s.explain(err)
	}
	if pc := rep.GetProbeClock(); pc != nil {
		pc.Asked, pc.Answered = timestamppb.New(asked), timestamppb.New(Now())
	}
	return rep, nil
}

// Close hangs up. The probe exits on stdin EOF and the engine removes it
// (AutoRemove), so Close does not wait for the removal.
func (s *Session) Close() error {
	if s.Client != nil {
		s.Client.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
	return nil
}

// abort hangs up and removes the container now, whatever state it is in.
func (s *Session) abort() {
	s.Close()
	s.remove(s.ID)
}

// removeNow force-removes a container with its own short deadline, so that
// a cancelled run still cleans up.
func removeNow(api API, idOrName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := api.ContainerRemove(ctx, idOrName, client.ContainerRemoveOptions{Force: true})
	warnRemove(idOrName, err)
}

// warnRemove warns of a removal that failed; "not found" and "removal in
// progress" are success.
func warnRemove(idOrName string, err error) {
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		fmt.Fprintf(os.Stderr, "warning: could not remove probe container %s: %v (run `agent cleanup`)\n", idOrName, err)
	}
}

// hijacked adapts the engine's hijacked attach connection to a
// transport.Stream: reads go through its buffered reader (which may already
// hold bytes), writes to the raw connection.
type hijacked struct{ client.HijackedResponse }

func (h hijacked) Read(p []byte) (int, error)  { return h.Reader.Read(p) }
func (h hijacked) Write(p []byte) (int, error) { return h.Conn.Write(p) }
func (h hijacked) Close() error                { h.HijackedResponse.Close(); return nil }
func (h hijacked) CloseWrite() error           { return h.HijackedResponse.CloseWrite() }

// SetRemove replaces how the session removes its container after a
// failure from now on (for a caller that hands removal to a watchdog).
func (s *Session) SetRemove(remove func(idOrName string)) { s.remove = remove }
