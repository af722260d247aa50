package hostfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture() *FS { return New("testdata/proc") }

func TestReadProcFile(t *testing.T) {
	tests := []struct {
		name    string
		pid     int
		file    string
		want    string // prefix
		wantErr error
	}{
		{name: "cmdline", pid: 143, file: "cmdline", want: "/usr/local/bin/dockerd\x00--containerd\x00"},
		{name: "comm", pid: 143, file: "comm", want: "dockerd\n"},
		{name: "stat", pid: 143, file: "stat", want: "143 (dockerd) S 131"},
		{name: "status", pid: 143, file: "status", want: "Name:\tdockerd"},
		{name: "environ is never read", pid: 143, file: "environ", wantErr: ErrNotAllowed},
		{name: "unknown file", pid: 143, file: "maps", wantErr: ErrNotAllowed},
		{name: "path traversal", pid: 143, file: "../1/comm", wantErr: ErrNotAllowed},
		{name: "root link is not a file", pid: 143, file: "root", wantErr: ErrNotAllowed},
		{name: "zero pid", pid: 0, file: "comm", wantErr: ErrNotAllowed},
		{name: "negative pid", pid: -1, file: "comm", wantErr: ErrNotAllowed},
		{name: "missing process", pid: 999, file: "comm", wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := fixture().ReadProcFile(tt.pid, tt.file)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadProcFile(%d, %q) error = %v, want %v", tt.pid, tt.file, err, tt.wantErr)
				}
				if strings.Contains(string(b), "hunter2") {
					t.Fatal("environ content leaked")
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadProcFile(%d, %q): %v", tt.pid, tt.file, err)
			}
			if !strings.HasPrefix(string(b), tt.want) {
				t.Errorf("ReadProcFile(%d, %q) = %q, want prefix %q", tt.pid, tt.file, b, tt.want)
			}
		})
	}
}

func TestReadProcFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "7"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", int(procFileCaps["comm"])+1)
	if err := os.WriteFile(filepath.Join(dir, "7", "comm"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(dir).ReadProcFile(7, "comm")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
}

func TestReadlinkAllowlist(t *testing.T) {
	fsys := New("/proc")
	for _, name := range []string{"cwd", "root", "environ", "fd/0", "ns/../root", "ns/net/.."} {
		if _, err := fsys.Readlink(os.Getpid(), name); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("Readlink(%q) error = %v, want ErrNotAllowed", name, err)
		}
	}
	if _, err := fsys.OpenNamespace(os.Getpid(), "../root"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("OpenNamespace(../root) error = %v, want ErrNotAllowed", err)
	}
}

func TestPIDs(t *testing.T) {
	pids, err := fixture().PIDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 2 || pids[0] != 1 || pids[1] != 143 {
		t.Errorf("PIDs() = %v, want [1 143]", pids)
	}
}
