package vmstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// TestCollectMissingDataRoot: a data-root that does not exist in the
// target's root is said in dataRoot.error, and is not a failed section;
// the memory files are read from the fixture /proc.
func TestCollectMissingDataRoot(t *testing.T) {
	proc := t.TempDir()
	for name, content := range map[string]string{
		"meminfo":        "MemTotal: 1024 kB\nMemAvailable: 512 kB\n",
		"vmstat":         "oom_kill 0\n",
		"7/root/etc/.k":  "",
		"7/ns/.not-here": "",
	} {
		p := filepath.Join(proc, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := Collect(hostfs.New(proc), 7, "/var/lib/containerd")
	if vs.GetDataRoot().GetError() == "" || vs.GetDataRoot().GetTotalBytes() != 0 {
		t.Errorf("data root = %v", vs.GetDataRoot())
	}
	if err != nil && strings.Contains(err.Error(), "data-root") {
		t.Errorf("a missing data-root failed the section: %v", err)
	}
	if m := vs.GetMemory(); m.GetTotalBytes() != 1024*1024 || m.GetAvailableBytes() != 512*1024 || m.GetOomKills() != 0 {
		t.Errorf("memory = %v", m)
	}
}
