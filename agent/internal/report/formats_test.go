package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestHTMLGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := HTML(&buf, loadFixture(t, name)); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".golden.html"), buf.Bytes())
		})
	}
}

// The page must never reach the network: no src/href to another origin,
// no @import, and a CSP that forbids it anyway.
func TestHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := HTML(&buf, loadFixture(t, "findings")); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, `content="default-src 'none';`) {
		t.Error("no Content-Security-Policy with default-src 'none'")
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindAllString(page, -1); len(m) > 0 {
		// Finding doc links are the only allowed hrefs (a click, not a load).
		for _, s := range m {
			if !strings.HasPrefix(strings.ToLower(s), "href") {
				t.Errorf("external resource: %s", s)
			}
		}
	}
	if strings.Contains(page, "@import") || strings.Contains(page, "<link") || strings.Contains(page, "<script src") {
		t.Error("the page loads something from outside")
	}
	// Findings come before every other section.
	if f, e := strings.Index(page, `id="findings"`), strings.Index(page, `id="engine"`); f < 0 || f > e {
		t.Errorf("findings are not on top (findings at %d, engine at %d)", f, e)
	}
}

func TestYAML(t *testing.T) {
	var buf bytes.Buffer
	if err := YAML(&buf, loadFixture(t, "desktop")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"schemaVersion: 1\n",
		"engine:\n  name: \"docker-desktop\"\n",
		"  hostGatewayIp: \"192.168.65.254\"\n",
		"interfaces:\n  -\n    name: \"lo\"\n",
		"    mtu: 65536\n",
		"errors: []\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("YAML lacks %q", want)
		}
	}
	if strings.Contains(out, "\t") {
		t.Error("YAML contains a tab")
	}
}

func TestJSONToYAMLShapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, "{}\n"},
		{`{"a":[],"b":{},"c":null,"d":true,"e":"x: y","no":1}`, "a: []\nb: {}\nc: null\nd: true\ne: \"x: y\"\n\"no\": 1\n"},
		{`{"a":[[1,2],{"b":"c"}]}`, "a:\n  -\n    - 1\n    - 2\n  -\n    b: \"c\"\n"},
		{`{"with space":"\u00e9\n"}`, "\"with space\": \"é\\n\"\n"},
	} {
		got, err := JSONToYAML([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	r := loadFixture(t, "desktop")
	for _, tc := range []struct{ tmpl, want string }{
		{`{{.engine.hostGatewayIp}}`, "192.168.65.254\n"},
		{`{{.target.pid}}`, "143\n"},
		{`{{range .interfaces}}{{.name}} {{end}}`, "lo eth0 services1 docker0 cni0 veth3f2a1b7 \n"},
		{`{{json .engine.networks}}`, ""},
		{`{{range .daemon.flags}}{{if eq .name "host-gateway-ip"}}{{.value}}{{end}}{{end}}`, "192.168.65.254\n"},
		{`{{upper .engine.osType}} {{join .engine.securityOptions ";"}}`, "LINUX name=seccomp,profile=unconfined;name=cgroupns\n"},
	} {
		var buf bytes.Buffer
		if err := Template(&buf, r, tc.tmpl); err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		if tc.want == "" { // JSON: must parse
			var v []map[string]any
			if err := json.Unmarshal(buf.Bytes(), &v); err != nil || len(v) != 3 || v[0]["name"] != "bridge" {
				t.Errorf("%s: %v %s", tc.tmpl, err, buf.String())
			}
			continue
		}
		if buf.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.tmpl, buf.String(), tc.want)
		}
	}
	if _, err := ParseTemplate(`{{.interfaces`); err == nil {
		t.Error("a broken template parses")
	}
}

func TestTextColor(t *testing.T) {
	r := loadFixture(t, "findings")
	var plain, color bytes.Buffer
	if err := Text(&plain, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Text(&color, r, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte("\x1b[")) {
		t.Error("ANSI codes without Color")
	}
	if !bytes.Contains(color.Bytes(), []byte("\x1b[31m[error]\x1b[0m")) || !bytes.Contains(color.Bytes(), []byte("\x1b[1mEngine\x1b[0m")) {
		t.Error("no colour with Color")
	}
	stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAll(color.Bytes(), nil)
	if !bytes.Equal(stripped, plain.Bytes()) {
		t.Error("coloured text differs from the plain text beyond the ANSI codes")
	}
}

func TestFindingsFirstInText(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, loadFixture(t, "findings"), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if f, e := strings.Index(out, "\nFindings\n"), strings.Index(out, "\nEngine\n"); f < 0 || f > e {
		t.Errorf("findings are not first (findings at %d, engine at %d)", f, e)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, loadFixture(t, "desktop"), Options{Format: "xml"}); err == nil {
		t.Error("xml accepted")
	}
}

func FuzzJSONToYAML(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":null}],"c":"x: y"}`, `[]`, `"s"`, `{"no":true}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) {
			return
		}
		if _, err := JSONToYAML([]byte(in)); err != nil {
			t.Errorf("valid JSON %q: %v", in, err)
		}
	})
}

// WriteAll renders each format exactly as Write does, once each.
func TestWriteAllMatchesWrite(t *testing.T) {
	for _, name := range []string{"desktop", "findings", "partial"} {
		rep := loadFixture(t, name)
		var mu sync.Mutex
		got := map[string][]byte{}
		err := WriteAll(rep, Formats, func(format string, data []byte) error {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := got[format]; dup {
				t.Errorf("%s: %s handed over twice", name, format)
			}
			got[format] = data
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Formats {
			var want bytes.Buffer
			if err := Write(&want, rep, Options{Format: f}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[f], want.Bytes()) {
				t.Errorf("%s: WriteAll's %s differs from Write's (%d vs %d bytes)", name, f, len(got[f]), want.Len())
			}
		}
	}
}
