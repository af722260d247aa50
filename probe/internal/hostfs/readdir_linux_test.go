package hostfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// dirTree is rootTree plus an /etc/cni/net.d, a directory outside the root
// and links to it that a listing must not follow out.
func dirTree(t testing.TB) *FS {
	t.Helper()
	fsys := rootTree(t)
	root := filepath.Join(fsys.Proc, "42", "root")
	outside := filepath.Join(filepath.Dir(fsys.Proc), "outside")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc/cni/net.d"), 0o755))
	must(os.MkdirAll(outside, 0o755))
	must(os.WriteFile(filepath.Join(outside, "secret.conflist"), []byte(secret), 0o600))
	for _, n := range []string{"87-podman.conflist", "10-flannel.conflist", "nerdctl-bridge.conflist"} {
		must(os.WriteFile(filepath.Join(root, "etc/cni/net.d", n), []byte("{}"), 0o644))
	}
	must(os.Mkdir(filepath.Join(root, "etc/cni/net.d/sub"), 0o755))
	must(os.Symlink("/etc/hostname", filepath.Join(root, "etc/cni/net.d/link.conf")))
	must(os.Symlink("../../../../../../outside", filepath.Join(root, "etc/climb-dir")))
	must(os.Symlink(outside, filepath.Join(root, "etc/abs-dir")))
	must(os.Symlink("cni/net.d", filepath.Join(root, "etc/netd-link")))
	return fsys
}

// outsideNames are entries that exist only outside the root (in the test
// directory above it and in "outside").
var outsideNames = map[string]bool{"secret.conflist": true, "outside": true, "proc": true, "secret": true}

var readDirCases = []struct {
	name    string
	path    string
	want    []string
	wantErr error
}{
	{name: "cni dir sorted", path: "/etc/cni/net.d", want: []string{"10-flannel.conflist", "87-podman.conflist", "link.conf", "nerdctl-bridge.conflist", "sub"}},
	{name: "symlinked dir inside the root", path: "/etc/netd-link", want: []string{"10-flannel.conflist", "87-podman.conflist", "link.conf", "nerdctl-bridge.conflist", "sub"}},
	{name: "climbing dir link is clamped", path: "/etc/climb-dir", wantErr: fs.ErrNotExist},
	{name: "absolute dir link out is clamped", path: "/etc/abs-dir", wantErr: fs.ErrNotExist},
	{name: "dotdot is clamped", path: "/../../outside", wantErr: fs.ErrNotExist},
	{name: "missing", path: "/etc/cni/none", wantErr: fs.ErrNotExist},
	{name: "a file is not a directory", path: "/etc/hostname", wantErr: syscall.ENOTDIR},
	{name: "fifo does not block", path: "/fifo", wantErr: syscall.ENOTDIR},
	{name: "empty path", path: "", wantErr: ErrNotAllowed},
}

func TestReadDirInRoot(t *testing.T) {
	fsys := dirTree(t)
	for _, openat2 := range []bool{true, false} {
		for _, tt := range readDirCases {
			t.Run(tt.name+map[bool]string{true: "/openat2", false: "/securejoin"}[openat2], func(t *testing.T) {
				noOpenat2.Store(!openat2)
				t.Cleanup(func() { noOpenat2.Store(false) })
				got, err := fsys.ReadDirInRoot(42, tt.path, 100)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("got %v, %v; want error %v", got, err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range got {
					names = append(names, e.Name)
					if outsideNames[e.Name] {
						t.Fatalf("listed %q from outside the root", e.Name)
					}
				}
				if !slices.Equal(names, tt.want) {
					t.Errorf("names %q, want %q", names, tt.want)
				}
			})
		}
	}
}

func TestReadDirInRootKinds(t *testing.T) {
	got, err := dirTree(t).ReadDirInRoot(42, "/etc/cni/net.d", 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]DirEntry{}
	for _, e := range got {
		kinds[e.Name] = e
	}
	if e := kinds["link.conf"]; !e.Symlink || e.Regular {
		t.Errorf("link.conf %+v: a symlink must be reported as one, not followed", e)
	}
	if e := kinds["sub"]; !e.Dir {
		t.Errorf("sub %+v, want a directory", e)
	}
	if e := kinds["nerdctl-bridge.conflist"]; !e.Regular {
		t.Errorf("nerdctl-bridge.conflist %+v, want regular", e)
	}
}

func TestReadDirInRootCap(t *testing.T) {
	got, err := dirTree(t).ReadDirInRoot(42, "/etc/cni/net.d", 2)
	if !errors.Is(err, ErrTooManyEntries) || len(got) != 2 {
		t.Fatalf("got %d entries, %v; want 2 and ErrTooManyEntries", len(got), err)
	}
}

// FuzzReadDirInRoot: whatever the path, nothing outside the root is listed.
func FuzzReadDirInRoot(f *testing.F) {
	for _, tt := range readDirCases {
		f.Add(tt.path)
	}
	fsys := dirTree(f)
	f.Fuzz(func(t *testing.T, path string) {
		got, _ := fsys.ReadDirInRoot(42, path, 100)
		for _, e := range got {
			if outsideNames[e.Name] {
				t.Fatalf("path %q listed %q from outside the root", path, e.Name)
			}
		}
	})
}
