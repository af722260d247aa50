package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/dockprobe/dockprobe/agent/internal/report"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// runCLI runs the agent in-process and returns stdout.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	oldOut, oldErr := Stdout, Stderr
	Stdout, Stderr = &out, &errb
	defer func() { Stdout, Stderr = oldOut, oldErr }()
	err := Run(t.Context(), args)
	return out.String(), err
}

func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Hidden {
				continue
			}
			if strings.TrimSpace(sub.Example) == "" {
				t.Errorf("`agent %s --help` has no example", sub.Name())
			}
			walk(sub)
		}
	}
	walk(newRoot())
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"powershell": "Register-ArgumentCompleter", "bash": "complete -o default -F", "zsh": "#compdef agent", "fish": "complete -c agent",
	} {
		out, err := runCLI(t, "completion", shell)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("agent completion %s: err %v, output lacks %q", shell, err, want)
		}
	}
	if _, err := runCLI(t, "completion", "cmd.exe"); ExitCode(err) != ExitUsage {
		t.Errorf("an unknown shell: %v (exit %d)", err, ExitCode(err))
	}
}

func plantedReport(t *testing.T) *probev1.Report {
	t.Helper()
	data, err := os.ReadFile("../report/testdata/findings.report.json")
	if err != nil {
		t.Fatal(err)
	}
	var r probev1.Report
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	r.Daemon.Argv = append(r.Daemon.Argv, "--label", "token=PLANTEDtoken1", "--registry-mirror", "https://u:PLANTEDpw2@m.example")
	r.Daemon.Config, _ = structpb.NewValue(map[string]any{"labels": []any{"secret=PLANTEDsecret3"}, "registry-mirrors": []any{"http://x:PLANTEDpw4@[::1"}})
	r.Findings[0].Evidence = append(r.Findings[0].Evidence, "Authorization: Bearer PLANTEDbearer5")
	return &r
}

// Every format goes through redaction.
func TestRenderRedactsEveryFormat(t *testing.T) {
	r := plantedReport(t)
	cases := []outputOptions{{format: "text"}, {format: "json"}, {format: "yaml"}, {format: "html"},
		{format: "text", template: "{{json .}}"}, {format: "text", anonymize: true}}
	for _, o := range cases {
		var buf bytes.Buffer
		if err := render(&buf, r, o); err != nil {
			t.Fatal(err)
		}
		for _, sec := range []string{"PLANTEDtoken1", "PLANTEDpw2", "PLANTEDsecret3", "PLANTEDpw4", "PLANTEDbearer5"} {
			if strings.Contains(buf.String(), sec) {
				t.Errorf("format %q template %q: %s leaked", o.format, o.template, sec)
			}
		}
		if strings.Contains(buf.String(), "\x1b[") {
			t.Errorf("format %q: ANSI codes written to a buffer", o.format)
		}
		if bytes.HasPrefix(buf.Bytes(), []byte("\xef\xbb\xbf")) {
			t.Errorf("format %q starts with a BOM", o.format)
		}
	}
}

func TestColorOnlyOnATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if useColor(f, false) || useColor(&bytes.Buffer{}, false) {
		t.Error("colour for a file or a buffer")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		t.Setenv("NO_COLOR", "")
		t.Setenv("TERM", "xterm")
		if !useColor(tty, false) {
			t.Error("no colour for a terminal")
		}
		if useColor(tty, true) {
			t.Error("colour despite --no-color")
		}
	}
	if newProgress(&bytes.Buffer{}).on {
		t.Error("progress for a non-terminal")
	}
}

func TestMappingFile(t *testing.T) {
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "map.json")
	var buf bytes.Buffer
	if err := render(&buf, plantedReport(t), outputOptions{format: "json", anonymize: true, mappingFile: mapPath}); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(mapPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m), `"hostnames"`) {
		t.Errorf("mapping: %s", m)
	}
	if fi, _ := os.Stat(mapPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("mapping mode %v", fi.Mode())
	}
	if strings.Contains(buf.String(), mapPath) {
		t.Error("the report names the mapping file")
	}
}

func TestOutputFlagValidation(t *testing.T) {
	for _, args := range [][]string{
		{"probe", "-o", "xml"}, {"probe", "--format", "{{.x"}, {"probe", "--mapping-file", "m.json"}, {"diff", "a"},
	} {
		if _, err := runCLI(t, args...); ExitCode(err) != ExitUsage {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, ExitCode(err))
		}
	}
}

func TestDiffCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r *probev1.Report) string {
		var buf bytes.Buffer
		if err := report.JSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := plantedReport(t)
	a := write("a.json", r)
	r.Interfaces = r.Interfaces[:len(r.Interfaces)-1]
	b := write("b.json", r)
	if out, err := runCLI(t, "diff", a, a); err != nil || !strings.Contains(out, "no differences") {
		t.Errorf("same reports: %v\n%s", err, out)
	}
	out, err := runCLI(t, "diff", a, b)
	if !errors.Is(err, ErrDiffers) || !strings.Contains(out, "  - veth3f2a1b7") {
		t.Errorf("different reports: %v\n%s", err, out)
	}
	out, err = runCLI(t, "diff", "-o", "json", a, b)
	if !errors.Is(err, ErrDiffers) || !strings.Contains(out, `"differ": true`) {
		t.Errorf("-o json: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "diff", a, filepath.Join(dir, "missing.json")); ExitCode(err) != ExitUsage {
		t.Errorf("a missing file: %v", err)
	}
}
