package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The launcher abstraction (issue 15): every command works through every
// runtime, and the launcher conformance suite (agent/internal/launcher/
// launchertest) passes against the real runtimes, not only the fake.

// nerdctlArgs selects the environment's nerdctl for any command.
func nerdctlArgs(n nctl) []string {
	return []string{"--runtime", "nerdctl", "--nerdctl", n.path, "--namespace", n.ns}
}

// TestNerdctlCommands runs doctor, bundle, watch, path --check and cleanup
// through nerdctl on the containerd-only environment (no Docker engine
// answers there).
func TestNerdctlCommands(t *testing.T) {
	forEachContainerd(t, func(t *testing.T, c *ctrEnv) {
		n := c.Nerdctl
		env := noDocker(t)
		run := func(args ...string) result {
			t.Helper()
			return runAgentEnv(t, env, args...)
		}

		t.Run("doctor", func(t *testing.T) {
			r := run(append([]string{"doctor", "-o", "json"}, nerdctlArgs(n)...)...)
			if r.code != 0 {
				t.Fatalf("agent doctor exited %d\nstderr: %s", r.code, r.stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("doctor -o json: %v\n%s", err, r.stdout)
			}
			if host, _ := get(doc, "engine", "host").(string); !strings.HasPrefix(host, "nerdctl") {
				t.Errorf(".engine.host = %q, want the nerdctl endpoint", host)
			}
			if got := str(num(doc, "target", "pid")); got != c.Env["LK_CONTAINERD_PID"] {
				t.Errorf(".target.pid = %s, want the environment's containerd %s", got, c.Env["LK_CONTAINERD_PID"])
			}
			ids := map[string]string{}
			for _, f := range list(doc, "findings") {
				fm := f.(map[string]any)
				ids[fm["id"].(string)], _ = fm["status"].(string)
			}
			if len(ids) == 0 || ids["daemon.found"] != "skip" {
				t.Errorf("findings %v: want checks, daemon.found skipped on a containerd host", ids)
			}
			text := run(append([]string{"doctor"}, nerdctlArgs(n)...)...)
			if text.code != 0 || !strings.Contains(text.stdout, " checks: ") {
				t.Errorf("agent doctor (text) exited %d\n%s\n%s", text.code, text.stdout, text.stderr)
			}
		})

		t.Run("bundle", func(t *testing.T) {
			zipPath := filepath.Join(t.TempDir(), "b.zip")
			r := run(append([]string{"bundle", "-o", zipPath}, nerdctlArgs(n)...)...)
			if r.code != 0 {
				t.Fatalf("agent bundle exited %d\nstderr: %s", r.code, r.stderr)
			}
			files, m := openBundle(t, zipPath)
			pid := c.Env["LK_CONTAINERD_PID"]
			for _, want := range []string{"report.json", "report.html", "raw/proc/" + pid + "/mountinfo", "raw/proc/" + pid + "/cmdline",
				"engine/version.json", "engine/info.json", "engine/networks.json", "agent.log"} {
				if _, ok := files[want]; !ok {
					t.Errorf("the bundle lacks %s", want)
				}
			}
			if m.Reduced || m.Tool.ProbeVersion == "" {
				t.Errorf("manifest: %+v", m)
			}
			if v := string(files["engine/version.json"]); !strings.Contains(v, "containerd") {
				t.Errorf("engine/version.json is not nerdctl's version:\n%s", v)
			}
			if !strings.Contains(string(files["agent.log"]), "nerdctl run") {
				t.Errorf("agent.log holds no nerdctl steps:\n%s", files["agent.log"])
			}
		})

		t.Run("path --check", func(t *testing.T) {
			r := run(append([]string{"path", "--check", "-o", "json", `C:\temp\app`}, nerdctlArgs(n)...)...)
			if r.code != 0 {
				t.Fatalf("agent path --check exited %d\nstderr: %s", r.code, r.stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("path -o json: %v\n%s", err, r.stdout)
			}
			if get(doc, "inVM", "mounted") != true || get(doc, "inVM", "propagation") != "shared" {
				t.Errorf(".inVM = %v, want /run/desktop/mnt/host/c mounted and shared", get(doc, "inVM"))
			}
		})

		t.Run("watch", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, agentBin, append([]string{"watch", "-o", "json", "--for", "20s"}, nerdctlArgs(n)...)...)
			cmd.Env = append(os.Environ(), env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			var ready map[string]any
			for ready == nil && sc.Scan() {
				var e map[string]any
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("watch line %q: %v", sc.Text(), err)
				}
				if e["kind"] == "ready" {
					ready = e
				}
			}
			if ready == nil {
				cmd.Wait()
				t.Fatalf("no ready event\nstderr: %s", stderr.String())
			}
			if got := str(num(ready, "targetPid")); got != c.Env["LK_CONTAINERD_PID"] {
				t.Errorf("ready.targetPid = %s, want the environment's containerd %s", got, c.Env["LK_CONTAINERD_PID"])
			}
			if probesIn(t, n) == "" {
				t.Error("no probe container while watching")
			}
			// Ctrl-C removes the probe and ends the watch as it ends
			// every command: exit 130.
			cmd.Process.Signal(os.Interrupt)
			go func() {
				for sc.Scan() {
				}
			}()
			cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "agent: interrupted (SIGINT)") {
				t.Errorf("watch after Ctrl-C: exit %d, want 130\nstderr: %s", code, stderr.String())
			}
			requireNoNerdctlProbes(t, n, 15*time.Second)
		})

		t.Run("cleanup", func(t *testing.T) {
			// Two probe containers left behind whose deadline label is far
			// ahead: the sweep spares them (a live agent's look the same),
			// cleanup removes them all.
			image := "dockprobe/probe:" + agentVersion(t)
			for _, spec := range [][]string{
				{"dockprobe-probe-left1", "--deadline", "1s"},
				{"dockprobe-probe-left2", "--deadline", "10m"},
			} {
				args := []string{"--namespace", n.ns, "run", "-d", "--name", spec[0], "--label", "io.dockprobe.probe=true",
					"--label", "io.dockprobe.deadline=4102444800", "--net", "none", image}
				if out, err := exec.Command(n.path, append(args, spec[1:]...)...).CombinedOutput(); err != nil {
					t.Fatalf("plant %s: %v\n%s", spec[0], err, out)
				}
			}
			if left := probesIn(t, n); strings.Count(left, "\n") != 1 {
				t.Fatalf("planted probes: %q, want two", left)
			}
			r := run(append([]string{"cleanup"}, nerdctlArgs(n)...)...)
			if r.code != 0 || strings.TrimSpace(r.stdout) != "removed 2 probe container(s)" {
				t.Fatalf("agent cleanup exited %d: %q\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			requireNoNerdctlProbes(t, n, 5*time.Second)
		})

		t.Run("conformance", func(t *testing.T) {
			goTest(t, "./agent/internal/nerdctl", "TestConformance",
				"DOCKPROBE_NERDCTL="+n.path, "DOCKPROBE_NERDCTL_NAMESPACE="+n.ns, "DOCKPROBE_EXCLUSIVE_ENGINE=1")
			requireNoNerdctlProbes(t, n, 15*time.Second)
		})
	})
}

// TestLauncherConformanceDocker runs the launcher conformance suite against
// each engine of the suite: its engine is the test's own, so the tests that
// remove every probe on it run too.
func TestLauncherConformanceDocker(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		goTest(t, "./agent/internal/launch", "TestConformance",
			"DOCKER_HOST="+e.Host, "DOCKER_CONTEXT=", "DOCKPROBE_REQUIRE_ENGINE=1", "DOCKPROBE_EXCLUSIVE_ENGINE=1")
	})
}

// goTest runs one package's test in a child `go test` with extra
// environment (the agent's internal packages cannot be imported from
// here) and fails when it fails or skips.
func goTest(t *testing.T, pkg, run string, env ...string) {
	t.Helper()
	cmd := exec.Command("go", "test", "-count=1", "-v", "-run", "^"+run+"$", pkg)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test %s -run %s: %v\n%s", pkg, run, err, out)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("go test %s -run %s skipped:\n%s", pkg, run, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+run) {
		t.Fatalf("go test %s -run %s ran nothing:\n%s", pkg, run, out)
	}
	t.Logf("%s %s:\n%s", pkg, run, out)
}

// agentVersion is the version bin/agent was built with (its probe image's
// tag).
func agentVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(agentBin, "version").Output()
	if err != nil {
		t.Fatalf("agent version: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		t.Fatalf("agent version: %q", out)
	}
	return f[1]
}
