package cli

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/probe/internal/collect"
)

// Item 8 of issue 5: many concurrent collections enter a target's network
// and UTS namespaces while the probe's other goroutines keep running; none
// of them may ever find itself on a thread left in the target's namespace
// (setns happens on locked threads that are never handed back). Run with
// -race (make unit does).
func TestConcurrentCollectionsNeverLeakTheTargetNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create namespaces")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1)")
	}
	cmd := exec.Command(unshare, "--net", "--uts", "sh", "-c", "hostname dockprobe-nsrace && exec sleep 120")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	own := nsLinks(t, "/proc/thread-self")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if strings.TrimSpace(string(b)) == "sleep" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("isolated sleep did not start")
		}
	}
	target := nsLinks(t, "/proc/"+strconv.Itoa(pid))
	if target["net"] == own["net"] || target["uts"] == own["uts"] {
		t.Fatal("the target does not have namespaces of its own")
	}

	// Watchers: goroutines that keep checking the namespace of whatever
	// thread they run on, yielding often so they hop between threads.
	var (
		stop     atomic.Bool
		leaks    atomic.Int64
		checks   atomic.Int64
		watchers sync.WaitGroup
		leakMsg  atomic.Value
	)
	for range 2 * runtime.GOMAXPROCS(0) {
		watchers.Go(func() {
			for !stop.Load() {
				for _, kind := range []string{"net", "uts"} {
					l, err := os.Readlink("/proc/thread-self/ns/" + kind)
					if err == nil && l != own[kind] {
						leaks.Add(1)
						leakMsg.Store(kind + " " + l)
					}
					checks.Add(1)
				}
				runtime.Gosched()
			}
		})
	}

	const rounds, parallel = 4, 12
	for range rounds {
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				r := collect.Collect(context.Background(), collect.Options{TargetPID: int32(pid)})
				if h := r.GetTarget().GetHostname(); h != "dockprobe-nsrace" {
					t.Errorf("target hostname %q, want dockprobe-nsrace", h)
				}
				if ifs := r.GetInterfaces(); len(ifs) != 1 || ifs[0].GetName() != "lo" {
					t.Errorf("interfaces %d, want only the target's lo", len(ifs))
				}
			})
		}
		wg.Wait()
	}
	stop.Store(true)
	watchers.Wait()
	if n := leaks.Load(); n > 0 {
		t.Fatalf("%d of %d checks found a goroutine on a thread in the target's namespace (%v)", n, checks.Load(), leakMsg.Load())
	}
	if h, _ := os.Hostname(); h == "dockprobe-nsrace" {
		t.Fatal("the test process's own host name changed")
	}
	t.Logf("%d collections, %d namespace checks, no leak", rounds*parallel, checks.Load())
}

func nsLinks(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kind := range []string{"net", "uts"} {
		l, err := os.Readlink(dir + "/ns/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		out[kind] = l
	}
	return out
}
