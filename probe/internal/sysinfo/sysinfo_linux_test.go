package sysinfo

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// TestTargetSelf describes the test process itself, which shares every
// namespace with the test and so needs no privilege.
func TestTargetSelf(t *testing.T) {
	fsys := hostfs.New("/proc")
	tg, err := Target(fsys, os.Getpid())
	if err != nil {
		t.Logf("partial: %v", err) // os-release may be absent in odd sandboxes
	}
	host, _ := os.Hostname()
	var u unix.Utsname
	_ = unix.Uname(&u)
	if tg.GetHostname() != host || tg.GetKernelRelease() != unix.ByteSliceToString(u.Release[:]) {
		t.Errorf("hostname %q kernel %q", tg.GetHostname(), tg.GetKernelRelease())
	}
	if !strings.HasPrefix(tg.GetNamespaces()["net"], "net:[") || len(tg.GetNamespaces()) < 6 {
		t.Errorf("namespaces = %v", tg.GetNamespaces())
	}
	if tg.GetComm() == "" {
		t.Error("no comm")
	}
}

// TestUTSOtherNamespace starts a process in a new UTS namespace with its own
// host name and reads that name through setns. Needs root.
func TestUTSOtherNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a UTS namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1)")
	}
	const name = "dockprobe-uts-test"
	cmd := exec.Command(unshare, "--uts", "sh", "-c", "hostname "+name+" && exec sleep 60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	fsys := hostfs.New("/proc")
	pid := cmd.Process.Pid
	deadline := time.Now().Add(30 * time.Second) // netns creation can wait on the kernel under load
	for time.Now().Before(deadline) {
		if b, _ := fsys.ReadProcFile(pid, "comm"); strings.TrimSpace(string(b)) == "sleep" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	u, err := UTS(fsys, pid)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname != name {
		t.Errorf("hostname = %q, want %q", u.Hostname, name)
	}
	if own, _ := os.Hostname(); own == name {
		t.Error("the test process's own host name changed")
	}
}
