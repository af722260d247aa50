package hostfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const secret = "SECRET outside the root"

// rootTree builds <dir>/proc/42/root as a small filesystem with the hostile
// shapes ReadInRoot must survive, and a secret file outside it. Symlinks are
// made here rather than committed under testdata/ so checkouts on any OS work.
func rootTree(t testing.TB) *FS {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "proc", "42", "root")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc", "usr/lib", "var/lib/docker", "dir"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(dir, "secret"), []byte(secret), 0o600))
	must(os.WriteFile(filepath.Join(dir, "proc", "42", "secret"), []byte(secret), 0o600))
	must(os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte("ID=alpine\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("docker-desktop\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "big"), make([]byte, 2048), 0o644))
	// The usual relative link, an absolute one that must resolve inside the
	// root, and links that try to climb out of it.
	must(os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release")))
	must(os.Symlink("/usr/lib/os-release", filepath.Join(root, "etc/abs-link")))
	must(os.Symlink("../../../../../../../../secret", filepath.Join(root, "etc/climb")))
	must(os.Symlink(filepath.Join(dir, "secret"), filepath.Join(root, "etc/abs-secret")))
	must(os.Symlink("../secret", filepath.Join(root, "etc/up-one")))
	must(os.Symlink("/proc/self/root/etc/passwd", filepath.Join(root, "etc/magic")))
	must(os.Symlink("loop-b", filepath.Join(root, "etc/loop-a")))
	must(os.Symlink("loop-a", filepath.Join(root, "etc/loop-b")))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	return New(filepath.Join(dir, "proc"))
}

var inRootCases = []struct {
	name    string
	path    string
	want    string
	wantErr error
}{
	{name: "plain file", path: "/etc/hostname", want: "docker-desktop\n"},
	{name: "relative path is inside the root", path: "etc/hostname", want: "docker-desktop\n"},
	{name: "relative symlink", path: "/etc/os-release", want: "ID=alpine\n"},
	{name: "absolute symlink resolves in root", path: "/etc/abs-link", want: "ID=alpine\n"},
	{name: "dotdot is clamped", path: "/../../../../secret", wantErr: fs.ErrNotExist},
	{name: "climbing symlink is clamped", path: "/etc/climb", wantErr: fs.ErrNotExist},
	{name: "absolute symlink out is clamped", path: "/etc/abs-secret", wantErr: fs.ErrNotExist},
	{name: "one level up is clamped", path: "/etc/up-one", wantErr: fs.ErrNotExist},
	{name: "directory", path: "/dir", wantErr: ErrNotRegular},
	{name: "fifo does not block", path: "/fifo", wantErr: ErrNotRegular},
	{name: "too large", path: "/big", wantErr: ErrTooLarge},
	{name: "missing", path: "/etc/daemon.json", wantErr: fs.ErrNotExist},
	{name: "symlink loop", path: "/etc/loop-a", wantErr: syscall.ELOOP},
	{name: "empty path", path: "", wantErr: ErrNotAllowed},
	{name: "NUL in path", path: "/etc/hostname\x00x", wantErr: ErrNotAllowed},
}

func TestReadInRoot(t *testing.T) {
	for _, mode := range []struct {
		name    string
		openat2 bool
	}{
		{name: "openat2", openat2: true},
		{name: "securejoin", openat2: false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			fsys := rootTree(t)
			for _, tt := range inRootCases {
				t.Run(tt.name, func(t *testing.T) {
					b, err := readInRootMode(fsys, 42, tt.path, 1024, mode.openat2)
					if strings.Contains(string(b), "SECRET") {
						t.Fatalf("read the secret outside the root through %q", tt.path)
					}
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("ReadInRoot(%q) error = %v, want %v", tt.path, err, tt.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("ReadInRoot(%q): %v", tt.path, err)
					}
					if string(b) != tt.want {
						t.Errorf("ReadInRoot(%q) = %q, want %q", tt.path, b, tt.want)
					}
				})
			}
		})
	}
}

// TestReadInRootMagicLink checks that openat2 refuses to follow a /proc
// magic link met inside the root (here the test process's own /proc), which
// could otherwise lead into another process's root or an open file.
func TestReadInRootMagicLink(t *testing.T) {
	if _, err := os.Stat("/proc/self/root/etc"); err != nil {
		t.Skip("no /proc here")
	}
	b, err := readInRootMode(New("/proc"), os.Getpid(), "/proc/self/root/etc/hostname", 1<<20, true)
	if !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("ReadInRoot through a magic link = %d bytes, %v; want ELOOP", len(b), err)
	}
}

// TestReadInRootRealProc reads through the real /proc/<pid>/root of this test
// process, the path the probe takes in production.
func TestReadInRootRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/root/etc"); err != nil {
		t.Skip("no /proc here")
	}
	want, err := os.ReadFile("/etc/hostname")
	if err != nil {
		t.Skipf("no /etc/hostname: %v", err)
	}
	got, err := New("/proc").ReadInRoot(os.Getpid(), "/etc/hostname", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("ReadInRoot(/etc/hostname) = %q, want %q", got, want)
	}
}

// readInRootMode is ReadInRoot with the strategy chosen by the test.
func readInRootMode(fsys *FS, pid int, path string, max int64, openat2 bool) ([]byte, error) {
	clean, err := cleanInRoot(path)
	if err != nil {
		return nil, err
	}
	root, err := fsys.procPath(pid, "root")
	if err != nil {
		return nil, err
	}
	f, err := openInRoot(root, clean, openFlags, openat2)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRegular(f, max)
}

// FuzzReadInRoot checks the one property that matters: whatever the path,
// nothing outside the root is ever read, by either strategy.
func FuzzReadInRoot(f *testing.F) {
	for _, tt := range inRootCases {
		f.Add(tt.path)
	}
	f.Add("/etc/magic")
	f.Add("/proc/self/environ")
	f.Add("//..//etc/../../secret")
	fsys := rootTree(f)
	f.Fuzz(func(t *testing.T, path string) {
		for _, openat2 := range []bool{true, false} {
			b, _ := readInRootMode(fsys, 42, path, 1024, openat2)
			if strings.Contains(string(b), "SECRET") {
				t.Fatalf("read outside the root through %q (openat2=%v)", path, openat2)
			}
		}
	})
}

func BenchmarkReadInRoot(b *testing.B) {
	fsys := rootTree(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fsys.ReadInRoot(42, "/etc/os-release", 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
