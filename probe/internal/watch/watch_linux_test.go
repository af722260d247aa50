package watch

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// fakeStream is the server side of a Watch stream without gRPC.
type fakeStream struct {
	grpc.ServerStream
	ctx    context.Context
	events chan *probev1.WatchEvent
}

func (f *fakeStream) Context() context.Context         { return f.ctx }
func (f *fakeStream) SetHeader(metadata.MD) error      { return nil }
func (f *fakeStream) SendHeader(metadata.MD) error     { return nil }
func (f *fakeStream) SetTrailer(metadata.MD)           {}
func (f *fakeStream) Send(e *probev1.WatchEvent) error { f.events <- e; return nil }

// holder starts a process in fresh network and mount namespaces, as the
// target to watch.
func holder(t *testing.T) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network and mount namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private", "sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	// Wait until unshare has exec'd sleep in its new namespaces.
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		ns, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if ns != "" && ns != self && strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
		// Creating a network namespace can wait seconds for the kernel's
		// namespace cleanup when many are being torn down (CI's e2e
		// environments): be patient, but bounded.
		if i > 3000 {
			t.Fatal("holder did not enter its namespaces within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return pid
}

func in(t *testing.T, pid int, ns string, args ...string) {
	t.Helper()
	full := append([]string{"-t", strconv.Itoa(pid), ns}, args...)
	if out, err := exec.Command("nsenter", full...).CombinedOutput(); err != nil {
		t.Fatalf("nsenter %s: %v\n%s", strings.Join(full, " "), err, out)
	}
}

// expect waits for an event matching kind, action and a summary fragment.
func expect(t *testing.T, events chan *probev1.WatchEvent, kind, action, fragment string) *probev1.WatchEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-events:
			t.Logf("event: %s %s %s", e.GetKind(), e.GetAction(), e.GetSummary())
			if e.GetKind() == kind && e.GetAction() == action && strings.Contains(e.GetSummary(), fragment) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s %s event mentioning %q", kind, action, fragment)
			return nil
		}
	}
}

func TestWatchStreamsNamespaceChanges(t *testing.T) {
	pid := holder(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fs := &fakeStream{ctx: ctx, events: make(chan *probev1.WatchEvent, 64)}
	done := make(chan error, 1)
	go func() { done <- New(nil).Watch(&probev1.WatchRequest{TargetPid: int32(pid)}, fs) }()

	ready := expect(t, fs.events, KindReady, "", "watching pid")
	if ready.GetTargetPid() != int32(pid) || ready.GetProbePid() != int32(os.Getpid()) {
		t.Errorf("ready: target %d probe %d, want %d and %d", ready.GetTargetPid(), ready.GetProbePid(), pid, os.Getpid())
	}
	in(t, pid, "-n", "ip", "link", "add", "wt0", "type", "veth", "peer", "name", "wt1")
	expect(t, fs.events, KindInterface, ActionAdded, "wt0")
	in(t, pid, "-n", "ip", "addr", "add", "10.99.0.1/24", "dev", "wt0")
	e := expect(t, fs.events, KindAddress, ActionAdded, "10.99.0.1/24 on wt0")
	if e.GetDevice() != "wt0" || e.GetAddress().GetCidr() != "10.99.0.1/24" {
		t.Errorf("address event: device %q cidr %q", e.GetDevice(), e.GetAddress().GetCidr())
	}
	in(t, pid, "-n", "ip", "link", "set", "wt0", "up")
	expect(t, fs.events, KindInterface, ActionUp, "wt0")
	in(t, pid, "-n", "ip", "route", "add", "10.98.0.0/16", "via", "10.99.0.254")
	expect(t, fs.events, KindRoute, ActionAdded, "10.98.0.0/16 via 10.99.0.254 dev wt0")
	in(t, pid, "-n", "ip", "route", "del", "10.98.0.0/16")
	expect(t, fs.events, KindRoute, ActionRemoved, "10.98.0.0/16")
	in(t, pid, "-m", "mount", "-t", "tmpfs", "wtest", "/mnt")
	expect(t, fs.events, KindMount, ActionAdded, "/mnt (tmpfs wtest")
	in(t, pid, "-m", "umount", "/mnt")
	expect(t, fs.events, KindMount, ActionRemoved, "/mnt (tmpfs wtest")
	in(t, pid, "-n", "ip", "link", "del", "wt0")
	expect(t, fs.events, KindInterface, ActionRemoved, "wt0")

	// The target's end ends the watch of an explicit pid with an error event.
	syscallKill(t, pid)
	expect(t, fs.events, KindError, "", "exited")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after the stream's context ended")
	}
}

func syscallKill(t *testing.T, pid int) {
	t.Helper()
	p, _ := os.FindProcess(pid)
	if err := p.Kill(); err != nil {
		t.Fatalf("kill holder: %v", err)
	}
}
