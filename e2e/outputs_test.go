package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The output formats against the LinuxKit-shaped engine: the agent's
// stdout is a pipe here, so no ANSI code may appear, and nothing may start
// with a BOM.
func TestOutputFormats(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"probe"}, []string{"[eth0] inet addr:192.168.65.3 ", "--host-gateway-ip"}},
			{[]string{"probe", "-o", "yaml"}, []string{"schemaVersion: 1\n", "  hostGatewayIp: \"192.168.65.254\"\n", "    name: \"eth0\"\n"}},
			{[]string{"probe", "--format", "{{.engine.hostGatewayIp}} {{range .interfaces}}{{.name}},{{end}}"}, []string{"192.168.65.254 "}},
			{[]string{"probe", "--format", "{{json .interfaces}}"}, []string{`"name":"eth0"`, `"cidr":"192.168.65.3/24"`}},
		} {
			r := agent(t, e.Host, tc.args...)
			if r.code != 0 {
				t.Errorf("agent %v: exit %d\n%s", tc.args, r.code, r.stderr)
				continue
			}
			checkText(t, strings.Join(tc.args, " "), []byte(r.stdout))
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("agent %v: output lacks %q", tc.args, w)
				}
			}
			if strings.Contains(r.stderr, "\x1b[") || strings.Contains(r.stderr, "\r") {
				t.Errorf("agent %v: progress or colour on a stderr that is not a terminal: %q", tc.args, r.stderr)
			}
			if strings.Contains(strings.Join(tc.args, " "), "json .interfaces") {
				var v []map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || len(v) < 5 {
					t.Errorf("--format '{{json .interfaces}}' is not a JSON list of interfaces: %v", err)
				}
			}
		}
	})
}

// checkText: UTF-8, no BOM, no ANSI escape.
func checkText(t *testing.T, what string, b []byte) {
	t.Helper()
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Errorf("%s: starts with a BOM", what)
	}
	if !utf8.Valid(b) {
		t.Errorf("%s: not UTF-8", what)
	}
	if bytes.Contains(b, []byte("\x1b[")) {
		t.Errorf("%s: ANSI escape codes in piped output", what)
	}
}

// The HTML report of the real engine, opened in real headless Chromium: it
// runs its script without a console error and shows the key values.
func TestHTMLReportInChromium(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		r := agent(t, e.Host, "probe", "-o", "html")
		if r.code != 0 {
			t.Fatalf("agent probe -o html: exit %d\n%s", r.code, r.stderr)
		}
		checkText(t, "html", []byte(r.stdout))
		dir := t.TempDir()
		page := filepath.Join(dir, "report.html")
		if err := os.WriteFile(page, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, console := chromium(t, dir, "file://"+page+"?q=192.168.65")
		for _, want := range []string{
			`data-ready="1"`, "192.168.65.3/24", "docker0", "172.17.0.1/16", "/run/desktop/mnt/host/c", "192.168.65.254",
			"--host-gateway-ip", "of", "rows match",
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("the rendered page lacks %q", want)
			}
		}
		// The search box filtered with ?q=: rows without the term are hidden.
		if !regexp.MustCompile(`<tr class="row hidden">`).MatchString(dom) {
			t.Error("searching hid no row")
		}
		for _, line := range strings.Split(console, "\n") {
			if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Content Security Policy") {
				t.Errorf("browser console: %s", line)
			}
		}
	})
}

// chromium renders url headless and returns the DOM after scripts ran and
// the browser's log (console messages land there with --enable-logging).
func chromium(t *testing.T, dir, url string) (dom, log string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (.ci/run installs Debian's chromium package): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=2000", "--dump-dom", url)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

func TestBundle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		dir := t.TempDir()
		zipPath := filepath.Join(dir, "b.zip")
		r := agent(t, e.Host, "bundle", "-o", zipPath)
		if r.code != 0 {
			t.Fatalf("agent bundle: exit %d\n%s", r.code, r.stderr)
		}
		files, m := openBundle(t, zipPath)
		pid := e.Env["LK_DOCKERD_PID"]
		for _, want := range []string{"README.md", "manifest.json", "report.json", "report.txt", "report.html", "report.yaml",
			"raw/proc/" + pid + "/mountinfo", "raw/proc/" + pid + "/cmdline", "raw/daemon-config/daemon.json",
			"raw/net/ip-addr.txt", "raw/net/ip-route.txt", "engine/version.json", "engine/info.json", "engine/networks.json", "agent.log", "report.schema.json"} {
			if _, ok := files[want]; !ok {
				t.Errorf("the bundle lacks %s", want)
			}
		}
		if m.Reduced || m.Tool.AgentVersion == "" || m.Tool.ProbeVersion == "" || m.CreatedAt == "" || m.CollectedAt == "" {
			t.Errorf("manifest: %+v", m)
		}
		if !strings.Contains(string(files["raw/proc/"+pid+"/mountinfo"]), " /run/desktop/mnt/host/c ") ||
			!strings.Contains(string(files["raw/proc/"+pid+"/cmdline"]), "--host-gateway-ip\n192.168.65.254\n") ||
			!strings.Contains(string(files["raw/net/ip-addr.txt"]), "inet 192.168.65.3/24") {
			t.Error("raw sources do not hold the LinuxKit values")
		}
		if !strings.Contains(string(files["agent.log"]), "collect") {
			t.Errorf("agent.log holds no progress:\n%s", files["agent.log"])
		}
	})
}

// manifest is the part of manifest.json the tests read.
type manifest struct {
	Tool struct {
		AgentVersion string `json:"agentVersion"`
		ProbeVersion string `json:"probeVersion"`
	} `json:"tool"`
	CreatedAt   string `json:"createdAt"`
	CollectedAt string `json:"collectedAt"`
	Reduced     bool   `json:"reduced"`
	Reason      string `json:"reason"`
	Redaction   struct {
		Enabled    bool           `json:"enabled"`
		Anonymized bool           `json:"anonymized"`
		Rules      map[string]int `json:"rules"`
	} `json:"redaction"`
	Files []struct {
		Path, SHA256, Producer string
		Size                   int
	} `json:"files"`
}

// openBundle unzips a bundle and checks its manifest against its files:
// every file listed with the right size and sha256, nothing unlisted.
func openBundle(t *testing.T, path string) (map[string][]byte, manifest) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open bundle: %v", err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
	}
	var m manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	listed := map[string]bool{"README.md": true, "manifest.json": true}
	for _, f := range m.Files {
		listed[f.Path] = true
		b, ok := files[f.Path]
		sum := sha256.Sum256(b)
		if !ok || len(b) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 || f.Producer == "" {
			t.Errorf("manifest entry %+v does not match the file (present %v, %d bytes, sha256 %x)", f, ok, len(b), sum)
		}
	}
	for name := range files {
		if !listed[name] {
			t.Errorf("%s is in the zip but not in the manifest", name)
		}
	}
	if !m.Redaction.Enabled {
		t.Error("manifest says redaction was off")
	}
	return files, m
}

func TestReducedBundleWhenTheEngineIsUnreachable(t *testing.T) {
	zipPath := filepath.Join(t.TempDir(), "r.zip")
	r := agent(t, "unix:///nonexistent/docker.sock", "bundle", "-o", zipPath)
	if r.code != 3 {
		t.Errorf("exit %d, want 3 (engine unreachable)\n%s", r.code, r.stderr)
	}
	files, m := openBundle(t, zipPath)
	if !m.Reduced || !strings.Contains(m.Reason, "nonexistent") {
		t.Errorf("manifest: reduced %v reason %q", m.Reduced, m.Reason)
	}
	if !strings.Contains(string(files["README.md"]), "reduced bundle") {
		t.Errorf("README does not say the bundle is reduced:\n%s", files["README.md"])
	}
}

func TestCompletionAndHelp(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		r := agent(t, e.Host, "completion", "powershell")
		if r.code != 0 || !strings.Contains(r.stdout, "Register-ArgumentCompleter") {
			t.Errorf("agent completion powershell: exit %d\n%.200s", r.code, r.stdout)
		}
		for _, cmd := range []string{"probe", "bundle", "diff", "completion", "cleanup", "version"} {
			r := agent(t, e.Host, cmd, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("agent %s --help: exit %d, no Examples section", cmd, r.code)
			}
		}
	})
}

// On a terminal (a pty from util-linux's script) the text report has
// colour and stderr shows the progress line, cleared before the report;
// --no-color and NO_COLOR turn colour off.
func TestColourAndProgressOnATerminal(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Fatalf("script (util-linux) is needed for a pty: %v", err)
		}
		run := func(extraEnv string, args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmdline := agentBin + " " + strings.Join(args, " ")
			cmd := exec.CommandContext(ctx, "script", "-qec", cmdline, "/dev/null")
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host, "DOCKER_CONTEXT=", "TERM=xterm", "NO_COLOR="+extraEnv)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("script -c %q: %v\n%s", cmdline, err, out)
			}
			return string(out)
		}
		tty := run("", "probe")
		if !strings.Contains(tty, "\x1b[1mEngine\x1b[0m") {
			t.Errorf("no colour on a terminal:\n%.300q", tty)
		}
		if !strings.Contains(tty, "\r\x1b[2Kagent: ") || !strings.Contains(tty, "\r\x1b[2Kdockprobe report") {
			t.Errorf("no progress line, or it is not cleared before the report:\n%.300q", tty)
		}
		if out := run("", "probe", "--no-color"); strings.Contains(out, "\x1b[1m") {
			t.Errorf("colour despite --no-color:\n%.300q", out)
		}
		if out := run("1", "probe"); strings.Contains(out, "\x1b[1m") {
			t.Errorf("colour despite NO_COLOR=1:\n%.300q", out)
		}
	})
}
