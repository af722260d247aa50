package launchertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Fake is a runtime in memory: its "containers" are names in a map and its
// probe is a gRPC server on a net.Pipe that answers Handshake, Collect and
// Watch. It is for tests of launcher's callers and of the suite itself.
type Fake struct {
	// Engine is what Facts answers.
	Engine *probev1.Engine

	mu         sync.Mutex
	containers map[string]fakeContainer
	n          int
}

type fakeContainer struct {
	deadline time.Time
	live     bool
}

var _ launcher.Launcher = (*Fake)(nil)

// NewFake returns an empty fake runtime.
func NewFake() *Fake {
	return &Fake{Engine: &probev1.Engine{Host: "fake://", ServerVersion: "1.0", OsType: "linux", Architecture: "x86_64"},
		containers: map[string]fakeContainer{}}
}

// Exists reports whether the fake holds a container of that name.
func (f *Fake) Exists(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.containers[name]
	return ok
}

func (f *Fake) Runtime() string { return "fake" }

func (f *Fake) Facts(context.Context) (*probev1.Engine, []*probev1.SectionError) {
	// Each report owns its Engine (Probe fills in the host-gateway).
	return proto.Clone(f.Engine).(*probev1.Engine), nil
}

func (f *Fake) Start(ctx context.Context, o launcher.Options) (launcher.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.n++
	name := o.Name
	if name == "" {
		name = fmt.Sprintf("fake-probe-%d", f.n)
	}
	f.containers[name] = fakeContainer{deadline: time.Now().Add(o.Deadline), live: true}
	f.mu.Unlock()
	if o.OnImage != nil {
		o.OnImage("fake/probe:" + o.Version)
	}
	o.Step("start")
	if o.Starting != nil {
		o.Starting()
	}
	agentEnd, probeEnd := net.Pipe()
	srv := grpc.NewServer()
	probev1.RegisterProbeServer(srv, fakeProbe{})
	probev1.RegisterWatchServer(srv, fakeProbe{})
	go srv.Serve(OneConn(probeEnd))
	used := false
	pc, err := probeclient.Dial(func(context.Context, string) (net.Conn, error) {
		if used {
			return nil, errors.New("the probe's stdio is already in use")
		}
		used = true
		return agentEnd, nil
	})
	if err != nil {
		srv.Stop()
		f.remove(name)
		return nil, err
	}
	return &fakeSession{f: f, name: name, pc: pc, srv: srv, version: o.Version}, nil
}

func (f *Fake) remove(name string) {
	f.mu.Lock()
	delete(f.containers, name)
	f.mu.Unlock()
}

func (f *Fake) Ping(context.Context) error { return nil }

func (f *Fake) Sweep(_ context.Context, now time.Time) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var gone []string
	for name, c := range f.containers {
		if now.After(c.deadline) {
			delete(f.containers, name)
			gone = append(gone, name)
		}
	}
	return gone, nil
}

func (f *Fake) Cleanup(context.Context, func(string, error)) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var gone []string
	for name := range f.containers {
		delete(f.containers, name)
		gone = append(gone, name)
	}
	return gone, nil
}

func (f *Fake) ContainerNames(context.Context) map[string]string { return map[string]string{} }

func (f *Fake) Answers(context.Context) []launcher.Answer {
	return []launcher.Answer{{Name: "engine/version", Producer: "fake", JSON: []byte(`{"Version":"1.0"}` + "\n")}}
}

func (f *Fake) Usage(context.Context) *probev1.EngineUsage { return nil }

func (f *Fake) Close() error { return nil }

type fakeSession struct {
	f       *Fake
	name    string
	pc      *probeclient.Client
	srv     *grpc.Server
	version string
}

func (s *fakeSession) Handshake(ctx context.Context) (*probev1.HandshakeResponse, error) {
	return s.pc.Handshake(ctx, s.version)
}

func (s *fakeSession) Collect(ctx context.Context, req *probev1.CollectRequest) (*probev1.Report, error) {
	return s.pc.Collect(ctx, req)
}

func (s *fakeSession) Watch(ctx context.Context, req *probev1.WatchRequest) (probev1.Watch_WatchClient, error) {
	return s.pc.Watch(ctx, req)
}

// Close hangs up; the probe exits and the runtime removes it.
func (s *fakeSession) Close() error {
	s.pc.Close()
	s.srv.Stop()
	s.f.remove(s.name)
	return nil
}

func (s *fakeSession) Abort() { s.Close() }

// fakeProbe answers like a probe of this agent's protocol.
type fakeProbe struct {
	probev1.UnimplementedProbeServer
	probev1.UnimplementedWatchServer
}

func (fakeProbe) Handshake(_ context.Context, req *probev1.HandshakeRequest) (*probev1.HandshakeResponse, error) {
	return &probev1.HandshakeResponse{ProbeVersion: req.GetAgentVersion(), ProtocolVersion: probev1.ProtocolVersion}, nil
}

// FakeHostGateway is the address the fake runtime maps the hint's
// host-gateway name to in its probe's /etc/hosts, as Docker does.
const FakeHostGateway = "192.168.65.254"

func (fakeProbe) Collect(_ context.Context, req *probev1.CollectRequest) (*probev1.CollectResponse, error) {
	rep := &probev1.Report{Target: &probev1.Target{Pid: max(req.GetTargetPid(), 1)}}
	if n := req.GetHint().GetHostGatewayName(); n != "" {
		rep.Container = &probev1.ProbeContainer{EtcHosts: []*probev1.HostsEntry{{Address: FakeHostGateway, Names: []string{n}}}}
	}
	return &probev1.CollectResponse{Report: rep}, nil
}

func (fakeProbe) Watch(req *probev1.WatchRequest, stream grpc.ServerStreamingServer[probev1.WatchEvent]) error {
	if err := stream.Send(&probev1.WatchEvent{Kind: "ready", TargetPid: max(req.GetTargetPid(), 1)}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// OneConn is a listener that yields c once, then blocks until closed: a
// probe's stdio is a single stream. Fakes of every runtime serve their
// fake probe's gRPC on it.
func OneConn(c net.Conn) net.Listener { return &oneConn{c: c, done: make(chan struct{})} }

type oneConn struct {
	mu   sync.Mutex
	c    net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConn) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *oneConn) Addr() net.Addr { return fakeAddr{} }

type fakeAddr struct{}

func (fakeAddr) Network() string { return "pipe" }
func (fakeAddr) String() string  { return "probe-stdio" }
