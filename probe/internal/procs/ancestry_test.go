package procs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// TestAncestry walks a fixture /proc shaped like Docker Desktop's VM: pid
// 1 whose namespace links cannot be read (as here), a shim, the
// docker-desktop service container's init entering mnt, pid and uts
// namespaces, then dockerd.
func TestAncestry(t *testing.T) {
	proc := t.TempDir()
	type p struct {
		pid, ppid int
		comm      string
		ns        map[string]string // nil: no ns directory (unreadable)
	}
	base := map[string]string{"mnt": "4026531841", "net": "4026531992", "pid": "4026531836", "uts": "4026531838"}
	inner := map[string]string{"mnt": "4026532301", "net": "4026531992", "pid": "4026532303", "uts": "4026532302"}
	for _, x := range []p{{1, 0, "init", nil}, {812, 1, "containerd-shim", base}, {830, 812, "docker-init", inner}, {143, 830, "dockerd", inner}} {
		dir := filepath.Join(proc, fmt.Sprint(x.pid))
		if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", x.pid, x.comm, x.ppid, x.pid, x.pid)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		if x.ns == nil {
			if err := os.Remove(filepath.Join(dir, "ns")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ns"), nil, 0o000); err != nil { // not a directory: links unreadable
				t.Fatal(err)
			}
			continue
		}
		for kind, id := range x.ns {
			if err := os.Symlink(kind+":["+id+"]", filepath.Join(dir, "ns", kind)); err != nil {
				t.Fatal(err)
			}
		}
	}
	chain := Ancestry(hostfs.New(proc), 143)
	var got []string
	for _, s := range chain {
		got = append(got, fmt.Sprintf("%d<%d %s %v err=%t", s.GetPid(), s.GetPpid(), s.GetComm(), s.GetEnters(), s.GetError() != ""))
	}
	want := []string{
		"1<0 init [] err=true",
		"812<1 containerd-shim [] err=true",
		"830<812 docker-init [mnt:[4026532301] pid:[4026532303] uts:[4026532302]] err=false",
		"143<830 dockerd [] err=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ancestry\n got %q\nwant %q", got, want)
	}

	// A pid whose stat is gone: one step that says so, nothing guessed.
	chain = Ancestry(hostfs.New(proc), 999)
	if len(chain) != 1 || chain[0].GetError() == "" || chain[0].GetComm() != "" {
		t.Errorf("missing pid: %v", chain)
	}
}
