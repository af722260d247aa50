package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 6's fast path, proven on the real engine rather than timed: the
// probe collects while the agent's Handshake and Collect are on their way
// (--prefetch), and the prefetched report is used only when the request
// chooses the same target. Here the machine's own dockerd runs beside the
// LinuxKit-shaped one: the prefetch tells them apart by the probe's
// containerd, the request by data-root, and the report must say data-root.
func TestFastPathPrefetchedReportIsTheRequestedOne(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		doc := debugProbe(t, e, "the prefetched report fits the request")
		if m := get(doc, "target", "method"); m != "data-root" {
			t.Errorf(".target.method = %v, want data-root (the request's hint), reason %v", m, get(doc, "target", "reason"))
		}

		// --target-pid names another process: the probe's prefetch collects
		// for it from the start and the report is that pid's.
		pid := e.Env["LK_CONTAINERD_PID"]
		r := agent(t, e.Host, "--debug", "probe", "-o", "json", "--target-pid", pid)
		if r.code != 0 {
			t.Fatalf("agent probe --target-pid exited %d\n%s", r.code, r.stderr)
		}
		doc = decode(t, r.stdout)
		if got := str(num(doc, "target", "pid")); got != pid || get(doc, "target", "method") != "override" {
			t.Errorf(".target = %v/%v, want %s/override", got, get(doc, "target", "method"), pid)
		}
	})
}

// The agent creates the container before it has checked the image; when
// the image under its tag turns out to hold other content, that container
// is thrown away, the right image loaded and the probe created again.
func TestFastPathStaleImageUnderOurTag(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		probeJSON(t, e.Host) // the image is present
		ref := "dockprobe/probe:" + imageTag(t, e.Host)
		dir := t.TempDir()
		df := "FROM " + ref + "\nLABEL io.dockprobe.probe.sha256=stale\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		build := exec.Command("docker", "-H", e.Host, "build", "-q", "-t", ref, dir)
		build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("docker build of a stale image: %v\n%s", err, out)
		}
		label := func() string {
			return docker(t, e.Host, "image", "inspect", "-f", `{{index .Config.Labels "io.dockprobe.probe.sha256"}}`, ref)
		}
		if got := label(); got != "stale" {
			t.Fatalf("setup: the label under %s is %q", ref, got)
		}

		debugProbe(t, e, "early create discarded")
		if got := label(); got == "stale" || len(got) != 64 {
			t.Errorf("after the run the label under %s is %q, want the embedded probe's sha256", ref, got)
		}
		requireNoProbes(t, e.Host, 10*time.Second)
	})
}

// debugProbe runs `agent --debug probe -o json` against the LinuxKit-shaped
// engine, requires success, the line want in its log (the agent's steps
// and the probe's own log) and the engine's dockerd as the target, and
// returns the report.
func debugProbe(t *testing.T, e *engineEnv, want string) map[string]any {
	t.Helper()
	r := agent(t, e.Host, "--debug", "probe", "-o", "json")
	if r.code != 0 {
		t.Fatalf("agent --debug probe exited %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("%q is not in the log:\n%s", want, r.stderr)
	}
	doc := decode(t, r.stdout)
	if got := str(num(doc, "target", "pid")); got != e.Env["LK_DOCKERD_PID"] {
		t.Errorf(".target.pid = %s, want %s", got, e.Env["LK_DOCKERD_PID"])
	}
	return doc
}

// decode parses a JSON report printed on stdout.
func decode(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%.500s", err, stdout)
	}
	return doc
}
