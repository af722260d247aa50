package collect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProc is one process of a fixture /proc.
type fakeProc struct {
	pid, ppid int
	comm      string
	argv      []string
}

// procTree is a fixture under a temp dir: a /proc tree in proc/ and the
// probe's own root in self/. The processes all share one set of
// namespaces, as they would in one VM.
type procTree struct {
	t   *testing.T
	dir string
}

// newProcTree writes comm, cmdline, stat and ns/* for each process.
func newProcTree(t *testing.T, procs []fakeProc) *procTree {
	t.Helper()
	tree := &procTree{t: t, dir: t.TempDir()}
	for _, p := range procs {
		base := fmt.Sprintf("proc/%d/", p.pid)
		tree.write(base+"comm", p.comm+"\n")
		tree.write(base+"cmdline", strings.Join(p.argv, "\x00")+"\x00")
		tree.write(base+"stat", fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", p.pid, p.comm, p.ppid, p.pid, p.pid))
		ns := filepath.Join(tree.proc(), fmt.Sprint(p.pid), "ns")
		if err := os.MkdirAll(ns, 0o755); err != nil {
			t.Fatal(err)
		}
		for kind, id := range map[string]string{"net": "4026531992", "mnt": "4026531841", "uts": "4026531838", "pid": "4026531836", "ipc": "4026531839", "user": "4026531837", "cgroup": "4026531835"} {
			if err := os.Symlink(kind+":["+id+"]", filepath.Join(ns, kind)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tree
}

// write puts content at path, relative to the fixture's top (so
// "proc/905/status" or "self/etc/hostname"), making its directories.
func (tree *procTree) write(path, content string) {
	tree.t.Helper()
	p := filepath.Join(tree.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tree.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tree.t.Fatal(err)
	}
}

// proc is the fixture's /proc, for Options.Proc.
func (tree *procTree) proc() string { return filepath.Join(tree.dir, "proc") }

// selfRoot is the probe's own root, for Options.SelfRoot.
func (tree *procTree) selfRoot() string { return filepath.Join(tree.dir, "self") }
