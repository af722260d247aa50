package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// systemHost is the machine's own engine, which .ci/run starts: a plain
// Linux Docker next to the LinuxKit-shaped one.
const systemHost = "unix:///var/run/docker.sock"

func systemEngineUp() bool {
	return exec.Command("docker", "-H", systemHost, "version").Run() == nil
}

func TestSystemEngine(t *testing.T) {
	if !systemEngineUp() {
		t.Fatalf("the machine's own engine at %s does not answer; .ci/run starts it", systemHost)
	}
	doc, _ := probeJSON(t, systemHost)
	root := get(doc, "engine", "dockerRootDir")
	if get(doc, "daemon", "dataRoot") != root || get(doc, "target", "method") != "data-root" {
		t.Errorf("system engine: target %v (%v), daemon data-root %v, engine root %v",
			get(doc, "target", "method"), get(doc, "target", "reason"), get(doc, "daemon", "dataRoot"), root)
	}
	if get(doc, "target", "pid") == get(map[string]any{"p": lkEnv["LK_DOCKERD_PID"]}, "p") {
		t.Errorf("system engine's report targets the LinuxKit dockerd")
	}
}

func TestUnreachableEngineIsOneClearLine(t *testing.T) {
	r := agent(t, "unix:///nonexistent/docker.sock", "probe")
	if r.code != 3 {
		t.Errorf("exit code = %d, want 3 (engine unreachable)", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "cannot connect") {
		t.Errorf("stderr = %q, want one line saying it cannot connect", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
}

func TestBadOutputFormatIsUsageError(t *testing.T) {
	r := agent(t, lkHost(), "probe", "-o", "xml")
	if r.code != 2 || !strings.Contains(r.stderr, "--output") {
		t.Errorf("exit %d, stderr %q; want 2 and a message about --output", r.code, r.stderr)
	}
}

// TestDockerfileProbeBuildsTheSameProbe builds the publishable image with
// Dockerfile.probe (legacy builder: no registry, FROM scratch) and runs it.
func TestDockerfileProbeBuildsTheSameProbe(t *testing.T) {
	tag := "dockprobe/probe:e2e-dockerfile"
	cmd := exec.Command("docker", "-H", lkHost(), "build", "-q", "-f", "Dockerfile.probe", "-t", tag, ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build -f Dockerfile.probe: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "-H", lkHost(), "rmi", "-f", tag).Run() })
	out, err := exec.Command("docker", "-H", lkHost(), "run", "--rm", "--network", "none", tag, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "probe ") || !strings.Contains(string(out), "protocol") {
		t.Fatalf("docker run %s --version: %v\n%s", tag, err, out)
	}
}
