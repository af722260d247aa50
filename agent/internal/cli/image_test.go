package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/internal/version"
)

// TestImageCommand: `agent image save` reaches imagesave with its own
// flags, and a bad command line exits 2.
func TestImageCommand(t *testing.T) {
	if err := Run(context.Background(), []string{"image", "save"}); ExitCode(err) != ExitUsage {
		t.Errorf("image save without -o: %v (exit %d), want exit %d", err, ExitCode(err), ExitUsage)
	}
	if err := Run(context.Background(), []string{"image", "frobnicate"}); ExitCode(err) != ExitUsage {
		t.Errorf("image frobnicate: %v (exit %d), want exit %d", err, ExitCode(err), ExitUsage)
	}
	if _, err := probeimage.Lookup("amd64", version.Version); err != nil {
		t.Skipf("no embedded probe for amd64 (run make): %v", err)
	}
	out := filepath.Join(t.TempDir(), "probe.tar")
	if err := Run(context.Background(), []string{"image", "save", "-o", out, "--arch", "amd64"}); err != nil {
		t.Fatalf("image save: %v", err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("archive %s: %v", out, err)
	}
}
