package agentk8s

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watchMoment is when a watch is interrupted: at after past the start, or
// past the first stderr line (--debug) or stdout line that step matches.
type watchMoment struct {
	name  string
	debug bool
	// step matches the line the moment counts from; nil: the start.
	step  func(stderrLine, stdoutLine string) bool
	after time.Duration
	// podSure: a probe pod exists (or existed) by then, so the run must
	// have made one.
	podSure bool
}

// stepLine matches a --debug progress line of the watch ("agent: pod
// dockprobe-...", "agent: exec").
func stepLine(prefix string) func(string, string) bool {
	return func(e, _ string) bool { return strings.HasPrefix(e, "agent: "+prefix) }
}

func firstEvent(_, o string) bool { return strings.Contains(o, `"kind":"ready"`) }

// A watch interrupted with Ctrl-C (SIGINT) at any moment (before its pod,
// while the pod is created or Pending, while the probe is exec'd, after
// the first event) exits 130 with the one line `agent: interrupted
// (SIGINT)`, has deleted its pod by the time it exits, and leaves no probe
// pod at all shortly after, with no later run to sweep it
// (DOCKPROBE_SWEEP=off).
func TestWatchInterruptLeavesNoPod(t *testing.T) {
	setup(t)
	assertNoProbePods(t, t.Context(), 30*time.Second)
	node := cluster.Nodes[0].Name
	moments := []watchMoment{
		{name: "10ms after the start", after: 10 * time.Millisecond},
		{name: "200ms after the start", after: 200 * time.Millisecond},
		{name: "as the pod is created", debug: true, step: stepLine("pod "), podSure: false},
		{name: "50ms into the pod's creation", debug: true, step: stepLine("pod "), after: 50 * time.Millisecond},
		{name: "200ms into the pod's start", debug: true, step: stepLine("pod "), after: 200 * time.Millisecond},
		{name: "600ms into the pod's start", debug: true, step: stepLine("pod "), after: 600 * time.Millisecond},
		{name: "as the probe is exec'd", debug: true, step: stepLine("exec"), podSure: true},
		{name: "100ms into the exec", debug: true, step: stepLine("exec"), after: 100 * time.Millisecond, podSure: true},
		{name: "at the first event", step: firstEvent, podSure: true},
		{name: "1s after the first event", step: firstEvent, after: time.Second, podSure: true},
	}
	sawPending := false
	for _, m := range moments {
		t.Run(m.name, func(t *testing.T) {
			args := []string{"watch", "--runtime", "kubernetes", "--node", node, "-o", "json", "--kubeconfig", cluster.Kubeconfig}
			if m.debug {
				args = append([]string{"--debug"}, args...)
			}
			r := watchAndInterrupt(t, m, args)
			if r.bySignal == syscall.SIGINT && m.step == nil && r.stdout == "" {
				// Signalled before the Go runtime's handler existed: the
				// signal itself ended it (a shell shows 130) and no pod
				// could exist yet. The leak check still runs.
			} else {
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code != 130 || lines[len(lines)-1] != "agent: interrupted (SIGINT)" || (!m.debug && len(lines) != 1) ||
					strings.Count(r.stderr, "agent: interrupted") != 1 {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 130 and the one line `agent: interrupted (SIGINT)`", r.code, r.stderr)
				}
			}
			if m.podSure && !r.podSeen {
				t.Errorf("no probe pod was seen while the watch ran, yet the moment comes after its creation (stderr %q)", r.stderr)
			}
			sawPending = sawPending || r.pendingAtSignal
			// The agent deletes its pod before it exits: whatever is left
			// at the exit is already being deleted.
			for _, p := range r.podsAtExit {
				if !p.deleting {
					t.Errorf("pod %s (%s) was not being deleted when the agent exited", p.name, p.phase)
				}
			}
			assertNoProbePods(t, t.Context(), 30*time.Second)
		})
	}
	t.Logf("a pod was Pending at the signal in at least one run: %v", sawPending)
}

type podState struct {
	name, phase string
	deleting    bool
}

// probePods lists the probe pods of the namespace.
func probePods(ctx context.Context) ([]podState, error) {
	out, err := cluster.Kubectl(ctx, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/managed-by=dockprobe",
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	var pods []podState
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		pods = append(pods, podState{name: f[0], phase: f[1], deleting: len(f) > 2})
	}
	return pods, nil
}

type watchRun struct {
	code            int
	bySignal        syscall.Signal
	stdout, stderr  string
	podSeen         bool
	pendingAtSignal bool
	podsAtExit      []podState
}

// watchAndInterrupt runs the agent with args, sends SIGINT at m's moment
// and waits for it to end. It notes whether a probe pod was seen while it
// ran and lists the pods at its exit.
func watchAndInterrupt(t *testing.T, m watchMoment, args []string) *watchRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(agentBin(t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "DOCKPROBE_SWEEP=off")
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	reached := make(chan time.Time, 1)
	if m.step == nil {
		reached <- start
	}
	fired := m.step == nil
	lines := make(chan [2]string, 64)
	var stdout, stderr bytes.Buffer
	read := func(r io.Reader, which int) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var l [2]string
			l[which] = sc.Text()
			lines <- l
		}
	}
	readers := make(chan struct{}, 2)
	go func() { read(errPipe, 0); readers <- struct{}{} }()
	go func() { read(outPipe, 1); readers <- struct{}{} }()
	exited := make(chan struct{})
	go func() {
		<-readers
		<-readers
		close(lines)
	}()
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for l := range lines {
			if l[0] != "" {
				stderr.WriteString(l[0] + "\n")
			}
			if l[1] != "" {
				stdout.WriteString(l[1] + "\n")
			}
			if !fired && m.step(l[0], l[1]) {
				fired = true
				reached <- time.Now()
			}
		}
	}()
	go func() {
		<-collected
		cmd.Wait()
		close(exited)
	}()
	r := &watchRun{}
	// Watch the namespace meanwhile: did a pod exist, was it Pending.
	polled := make(chan struct{})
	stopPoll := make(chan struct{})
	var (
		mu       sync.Mutex
		lastPods []podState
	)
	go func() {
		defer close(polled)
		for {
			select {
			case <-stopPoll:
				return
			default:
			}
			if pods, err := probePods(ctx); err == nil {
				mu.Lock()
				lastPods = pods
				if len(pods) > 0 {
					r.podSeen = true
				}
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	select {
	case from := <-reached:
		select {
		case <-time.After(time.Until(from.Add(m.after))):
			cmd.Process.Signal(syscall.SIGINT)
			mu.Lock()
			for _, p := range lastPods {
				if p.phase == "Pending" {
					r.pendingAtSignal = true
				}
			}
			mu.Unlock()
		case <-exited:
			t.Errorf("the watch ended by itself before the moment")
		}
	case <-exited:
		t.Errorf("the watch ended by itself before the moment")
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the moment never came within 2 minutes")
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("the watch did not end within a minute of SIGINT")
	}
	close(stopPoll)
	<-polled
	r.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.bySignal = ws.Signal()
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if strings.Contains(r.stdout, `"kind":"ready"`) || strings.Contains(r.stderr, "agent: exec") {
		r.podSeen = true // the pod ran, even if no poll caught it
	}
	pods, err := probePods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.podsAtExit = pods
	if testing.Verbose() {
		fmt.Printf("  %s: exit %d, pods at exit %v\n", m.name, r.code, pods)
	}
	return r
}
