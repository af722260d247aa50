package collect

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestArgValue(t *testing.T) {
	argv := []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "b19f13a9db81", "-address", "/run/containerd/containerd.sock"}
	if got := argValue(argv, "-id"); got != "b19f13a9db81" {
		t.Errorf("-id = %q", got)
	}
	if got := argValue([]string{"shim", "-id=abc"}, "-id"); got != "abc" {
		t.Errorf("-id= form = %q", got)
	}
	if got := argValue([]string{"shim", "-id"}, "-id"); got != "" {
		t.Errorf("dangling -id = %q", got)
	}
}

func TestIsShare(t *testing.T) {
	for mp, want := range map[string]bool{
		"/run/desktop/mnt/host/c": true, "/run/desktop/mnt/host/wsl/docker-desktop-bind-mounts": true,
		"/mnt/host/d": true, "/mnt/host": true, "/run/desktop/mnt/host": true, "/run/desktop/mnt/hostile": false, "/mnt/c": false, "/": false,
	} {
		if got := isShare(mp); got != want {
			t.Errorf("isShare(%q) = %v", mp, got)
		}
	}
}

// TestExtrasOnThisMachine collects with the test process as the target:
// the knowledge sections are present and never send a DNS query out of
// the test's own network namespace.
func TestExtrasOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc here")
	}
	r := Collect(context.Background(), Options{TargetPID: int32(os.Getpid())})
	for _, e := range r.GetErrors() {
		if e.GetSection() == SectionMountViews || e.GetSection() == SectionNames || e.GetSection() == SectionContainerLinks {
			t.Errorf("section error %v", e)
		}
	}
	if v := r.GetMountViews(); len(v) == 0 || v[0].GetPid() != int32(os.Getpid()) || v[0].GetMntNamespace() == "" {
		t.Errorf("mount views = %v", v)
	}
	if len(r.GetNames()) < 3 {
		t.Fatalf("names = %v", r.GetNames())
	}
	for _, n := range r.GetNames() {
		if strings.HasPrefix(n.GetSource(), "dns") && len(n.GetAddresses()) > 0 {
			t.Errorf("a DNS answer from the test's own namespace: %v", n)
		}
	}
}
