package imagesave

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestArchiveLoadsInRealLoaders imports a saved archive with the real
// tools a node has: `ctr -n k8s.io images import` against a containerd the
// test starts in a temporary directory (its own socket, root and state;
// the CRI plugin off), and `docker load` against the machine's dockerd
// under a tag of this test's own, removed afterwards. Needs root and the
// binaries (CI installs containerd and docker.io).
func TestArchiveLoadsInRealLoaders(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI is root)")
	}
	p := loadOrSkip(t, "amd64")
	ref := fmt.Sprintf("dockprobe/probe:imagesave-test-%d", os.Getpid())
	dir, err := os.MkdirTemp("", "dockprobe-imagesave-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "probe.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(f, p.Image, ref); err != nil {
		t.Fatal(err)
	}
	f.Close()

	t.Run("ctr import", func(t *testing.T) {
		containerd, err1 := exec.LookPath("containerd")
		ctr, err2 := exec.LookPath("ctr")
		if err1 != nil || err2 != nil {
			t.Skip("containerd and ctr are not installed")
		}
		sock := filepath.Join(dir, "c.sock")
		cfg := filepath.Join(dir, "config.toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
			filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")), 0o644)
		var log strings.Builder
		cmd := exec.Command(containerd, "--config", cfg)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		for i := 0; i < 200; i++ {
			if err := exec.Command(ctr, "-a", sock, "version").Run(); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		out, err := exec.Command(ctr, "-a", sock, "-n", "k8s.io", "images", "import", archive).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr import: %v\n%s\ncontainerd: %s", err, out, log.String())
		}
		out, err = exec.Command(ctr, "-a", sock, "-n", "k8s.io", "images", "ls", "-q").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "docker.io/"+ref) {
			t.Errorf("ctr images ls: %v\n%s", err, out)
		}
	})

	t.Run("docker load", func(t *testing.T) {
		if _, err := exec.LookPath("docker"); err != nil {
			t.Skip("docker is not installed")
		}
		if err := exec.Command("docker", "info").Run(); err != nil {
			t.Skip("no dockerd answers")
		}
		defer exec.Command("docker", "rmi", ref).Run()
		if out, err := exec.Command("docker", "load", "-i", archive).CombinedOutput(); err != nil {
			t.Fatalf("docker load: %v\n%s", err, out)
		}
		out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}} {{json .Config.Entrypoint}}", ref).CombinedOutput()
		id, _ := p.Image.ConfigName()
		if err != nil || strings.TrimSpace(string(out)) != id.String()+` ["/probe"]` {
			t.Errorf("docker image inspect: %v %s, want %s", err, out, id)
		}
	})
}
