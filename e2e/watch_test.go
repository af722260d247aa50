package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watchProc is a running `agent watch` whose stdout lines arrive on lines.
type watchProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuilder
}

// lockedBuilder is a strings.Builder safe for the process's writes and
// the test's reads.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	os.Stderr.Write(p)
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startWatch(t *testing.T, e *engineEnv, args ...string) *watchProc {
	t.Helper()
	cmd := exec.Command(agentBin, append([]string{"watch"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "DOCKER_CONTEXT=")
	stderr := &lockedBuilder{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent watch: %v", err)
	}
	w := &watchProc{cmd: cmd, lines: make(chan string, 256), stderr: stderr}
	go func(r io.Reader) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}(out)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return w
}

type watchEvent struct {
	Kind      string `json:"kind"`
	Action    string `json:"action"`
	Summary   string `json:"summary"`
	TargetPid int    `json:"targetPid"`
	Device    string `json:"device"`
	Interface struct {
		Name string `json:"name"`
	} `json:"interface"`
	Address struct {
		Cidr string `json:"cidr"`
	} `json:"address"`
	Mount struct {
		MountPoint string `json:"mountPoint"`
	} `json:"mount"`
}

// expectEvent waits for a JSON line matching match; every line must be JSON.
func (w *watchProc) expectEvent(t *testing.T, what string, timeout time.Duration, match func(watchEvent) bool) watchEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("agent watch ended while waiting for %s", what)
			}
			var e watchEvent
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("agent watch -o json printed a non-JSON line %q: %v", l, err)
			}
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", what, timeout)
		}
	}
}

// inLK runs a command in e's network or mount namespace.
func inLK(t *testing.T, e *engineEnv, ns string, args ...string) {
	t.Helper()
	enter := "--net=" + e.Env["LK_NETNS_PATH"]
	if ns == "mnt" {
		enter = "--mount=/proc/" + e.Env["LK_HOLDER_PID"] + "/ns/mnt"
	}
	if out, err := exec.Command("nsenter", append([]string{enter, "--"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nsenter %s %s: %v\n%s", enter, strings.Join(args, " "), err, out)
	}
}

func watchProbes(t *testing.T, e *engineEnv) []string {
	t.Helper()
	return strings.Fields(docker(t, e.Host, "ps", "-aq", "--filter", "label=io.dockprobe.probe=true"))
}

func TestWatchStreamsChangesAndCleansUp(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		w := startWatch(t, e, "-o", "json")
		ready := w.expectEvent(t, "ready", time.Minute, func(e watchEvent) bool { return e.Kind == "ready" })
		if got := strconv.Itoa(ready.TargetPid); got != e.Env["LK_DOCKERD_PID"] {
			t.Errorf("ready.targetPid = %s, want the engine's dockerd %s", got, e.Env["LK_DOCKERD_PID"])
		}
		t.Cleanup(func() {
			exec.Command("nsenter", "--net="+e.Env["LK_NETNS_PATH"], "--", "ip", "link", "del", "dpe2e0").Run()
			exec.Command("nsenter", "--mount=/proc/"+e.Env["LK_HOLDER_PID"]+"/ns/mnt", "--", "umount", "/mnt/dpe2e").Run()
		})
		const wait = 10 * time.Second

		inLK(t, e, "net", "ip", "link", "add", "dpe2e0", "type", "veth", "peer", "name", "dpe2e1")
		w.expectEvent(t, "interface added", wait, func(e watchEvent) bool {
			return e.Kind == "interface" && e.Action == "added" && e.Interface.Name == "dpe2e0"
		})
		inLK(t, e, "net", "ip", "addr", "add", "10.123.0.1/24", "dev", "dpe2e0")
		w.expectEvent(t, "address added", wait, func(e watchEvent) bool {
			return e.Kind == "address" && e.Action == "added" && e.Address.Cidr == "10.123.0.1/24" && e.Device == "dpe2e0"
		})
		inLK(t, e, "net", "ip", "link", "set", "dpe2e0", "up")
		w.expectEvent(t, "interface up", wait, func(e watchEvent) bool {
			return e.Kind == "interface" && e.Action == "up" && e.Interface.Name == "dpe2e0"
		})
		inLK(t, e, "mnt", "mkdir", "-p", "/mnt/dpe2e")
		inLK(t, e, "mnt", "mount", "-t", "tmpfs", "dpe2e", "/mnt/dpe2e")
		w.expectEvent(t, "mount added", wait, func(e watchEvent) bool {
			return e.Kind == "mount" && e.Action == "added" && e.Mount.MountPoint == "/mnt/dpe2e"
		})
		inLK(t, e, "mnt", "umount", "/mnt/dpe2e")
		w.expectEvent(t, "mount removed", wait, func(e watchEvent) bool {
			return e.Kind == "mount" && e.Action == "removed" && e.Mount.MountPoint == "/mnt/dpe2e"
		})
		inLK(t, e, "net", "ip", "link", "del", "dpe2e0")
		w.expectEvent(t, "interface removed", wait, func(e watchEvent) bool {
			return e.Kind == "interface" && e.Action == "removed" && e.Interface.Name == "dpe2e0"
		})

		// Ctrl-C removes the probe and ends the watch as it ends every
		// command: exit 130 and one line.
		w.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- w.cmd.Wait() }()
		select {
		case <-done:
			if code := w.cmd.ProcessState.ExitCode(); code != 130 || strings.TrimSpace(w.stderr.String()) != "agent: interrupted (SIGINT)" {
				t.Errorf("agent watch after Ctrl-C: exit %d, stderr %q; want 130 and the one line `agent: interrupted (SIGINT)`", code, w.stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("agent watch did not end on Ctrl-C")
		}
		if left := watchProbes(t, e); len(left) != 0 {
			t.Errorf("probe containers left after Ctrl-C: %v", left)
		}
	})
}

func TestWatchProbeGoesWithTheAgent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		w := startWatch(t, e)
		select {
		case l := <-w.lines:
			// Text mode: "15:04:05.000 ready              watching pid N (...)".
			if f := strings.Fields(l); len(f) < 2 || f[1] != "ready" {
				t.Errorf("first text line %q, want a ready line", l)
			}
		case <-time.After(time.Minute):
			t.Fatal("no ready line")
		}
		if len(watchProbes(t, e)) == 0 {
			t.Fatal("no probe container while watching")
		}
		// The agent dies without any chance to clean up: the attach stream
		// closes, the probe reads EOF and exits, and AutoRemove removes it.
		w.cmd.Process.Signal(syscall.SIGKILL)
		w.cmd.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for len(watchProbes(t, e)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("probe container still there 30s after the agent was killed: %v", watchProbes(t, e))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}
