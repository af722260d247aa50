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

// TestSystemEngine probes the machine's own engine while the suite's run
// beside it: the report is that engine's, never one of the LinuxKit-shaped.
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
	for _, e := range engines {
		if got := str(num(doc, "target", "pid")); got == e.Env["LK_DOCKERD_PID"] {
			t.Errorf("system engine's report targets %s's dockerd (pid %s)", e.Name, got)
		}
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

// A bad flag is refused before any engine is asked (none answers here).
func TestBadOutputFormatIsUsageError(t *testing.T) {
	r := agent(t, "unix:///nonexistent/docker.sock", "probe", "-o", "xml")
	if r.code != 2 || !strings.Contains(r.stderr, "--output") {
		t.Errorf("exit %d, stderr %q; want 2 and a message about --output", r.code, r.stderr)
	}
}

// TestDockerfileProbeBuildsTheSameProbe builds the publishable image with
// Dockerfile.probe (legacy builder: no registry, FROM scratch) and runs it.
func TestDockerfileProbeBuildsTheSameProbe(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		tag := "dockprobe/probe:e2e-dockerfile"
		cmd := exec.Command("docker", "-H", e.Host, "build", "-q", "-f", "Dockerfile.probe", "-t", tag, ".")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker build -f Dockerfile.probe: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("docker", "-H", e.Host, "rmi", "-f", tag).Run() })
		out, err := exec.Command("docker", "-H", e.Host, "run", "--rm", "--network", "none", tag, "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "probe ") || !strings.Contains(string(out), "protocol") {
			t.Fatalf("docker run %s --version: %v\n%s", tag, err, out)
		}
	})
}
