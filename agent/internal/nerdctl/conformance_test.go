package nerdctl

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
)

// TestConformance runs the launcher suite against real nerdctl: the binary
// in DOCKPROBE_NERDCTL (a wrapper that enters containerd's namespaces, as
// the e2e suite writes one) and the containerd namespace in
// DOCKPROBE_NERDCTL_NAMESPACE. The e2e suite runs it against its
// containerd-only environment (e2e/launcher_test.go); without those it
// skips. DOCKPROBE_EXCLUSIVE_ENGINE=1 adds the tests that remove every
// probe in the namespace.
func TestConformance(t *testing.T) {
	bin, ns := os.Getenv("DOCKPROBE_NERDCTL"), os.Getenv("DOCKPROBE_NERDCTL_NAMESPACE")
	if bin == "" || ns == "" {
		t.Skip("set DOCKPROBE_NERDCTL and DOCKPROBE_NERDCTL_NAMESPACE to run against real nerdctl (the e2e suite does)")
	}
	cfg := Config{Binary: bin, Namespace: ns, NoSweep: true}
	launchertest.Run(t, launchertest.Harness{
		New: func(t *testing.T) launcher.Launcher {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l, err := Open(ctx, cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return l
		},
		Exists: func(t *testing.T, name string) bool {
			out, err := exec.Command(bin, "--namespace", ns, "ps", "-a", "--format", "{{.Names}}").Output()
			if err != nil {
				t.Fatalf("nerdctl ps: %v", err)
			}
			for _, n := range strings.Fields(string(out)) {
				if n == name {
					return true
				}
			}
			return false
		},
		Exclusive: os.Getenv("DOCKPROBE_EXCLUSIVE_ENGINE") == "1",
		Version:   "conformance",
	})
}
