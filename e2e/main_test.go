package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	agentBin string
	lkScript string
)

func TestMain(m *testing.M) {
	if os.Getenv("DOCKPROBE_E2E") != "1" {
		fmt.Println("e2e: not enabled; run `make e2e` (DOCKPROBE_E2E=1, root, docker.io, containerd)")
		os.Exit(0)
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup failed:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	if os.Geteuid() != 0 {
		return 0, fmt.Errorf("the e2e suite needs root (it creates namespaces and runs dockerd)")
	}
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	agentBin = os.Getenv("DOCKPROBE_AGENT")
	if agentBin == "" {
		agentBin = filepath.Join(wd, "..", "bin", "agent")
	}
	if _, err := os.Stat(agentBin); err != nil {
		return 0, fmt.Errorf("agent binary: %w (run `make` first)", err)
	}
	lkScript = filepath.Join(wd, "lkenv", "lkenv.sh")
	bin, err := engineBin(wd)
	if err != nil {
		return 0, err
	}
	if err := checkEngineBin(bin); err != nil {
		return 0, err
	}
	engineSpecs = []engineSpec{{tag: "deb"}, {tag: "cur", bin: bin}}
	if engines, err = startEngines(engineSpecs); err != nil {
		return 0, err
	}
	defer stopEngines(engines)
	for _, e := range engines {
		fmt.Printf("e2e: %s: Docker %s (API %s), DOCKER_HOST=%s, netns %s\n", e.Name, e.Version, e.API, e.Host, e.Env["LK_NETNS"])
	}
	return m.Run(), nil
}

// parseEnv reads `export NAME=value` lines (values as bash %q quotes them;
// ours never need unquoting beyond simple quotes).
func parseEnv(b []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env[k] = strings.Trim(v, `'"`)
	}
	return env
}

type result struct {
	stdout, stderr string
	code           int
}

// agent runs the real agent binary with DOCKER_HOST pointing at host.
func agent(t *testing.T, host string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host, "DOCKER_CONTEXT=")
	return runResult(t, cmd)
}

// runResult runs cmd and returns its output and exit code; failing to run
// it at all fails the test.
func runResult(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run agent: %v", err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// probeJSON runs `agent probe -o json` and decodes the report.
func probeJSON(t *testing.T, host string, extra ...string) (map[string]any, []byte) {
	t.Helper()
	r := agent(t, host, append([]string{"probe", "-o", "json"}, extra...)...)
	if r.code != 0 {
		t.Fatalf("agent probe -o json exited %d\nstderr: %s", r.code, r.stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	return doc, []byte(r.stdout)
}

// docker runs the docker CLI against host.
func docker(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
