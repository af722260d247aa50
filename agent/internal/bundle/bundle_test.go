package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dockprobe/dockprobe/agent/internal/redact"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func fixture(t *testing.T) *probev1.Report {
	t.Helper()
	data, err := os.ReadFile("../report/testdata/desktop.report.json")
	if err != nil {
		t.Fatal(err)
	}
	var r probev1.Report
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func build(t *testing.T, anon bool) []byte {
	t.Helper()
	var a *redact.Anonymizer
	if anon {
		a = redact.NewAnonymizer()
	}
	s := redact.New(a)
	r := s.Report(fixture(t))
	b := New(s)
	b.Add("report.json", "agent probe -o json", []byte(`{"schemaVersion":1}`))
	b.AddRaw(r)
	b.Add("engine/info.json", "engine API GET /info", []byte(`{"Labels":["token=plantedtoken123"],"Name":"docker-desktop"}`))
	b.Add("raw/../../etc/evil", "test", []byte("x"))
	b.Add("agent.log", "log", []byte("dial tcp://me:plantedpw@host\n"))
	var buf bytes.Buffer
	when := time.Date(2026, 6, 13, 15, 3, 0, 0, time.UTC)
	if err := b.Write(&buf, Manifest{CreatedAt: when.Format(time.RFC3339), Tool: Tool{AgentVersion: "0.1.0"}}, "# readme\n", when); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBundleManifestHashesAndFileSet(t *testing.T) {
	data := build(t, false)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if names[0] != "README.md" || names[1] != "manifest.json" || !slices.IsSorted(names[2:]) {
		t.Errorf("entry order: %v", names)
	}
	files, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"agent.log", "engine/info.json", "etc/evil", "raw/daemon-config/daemon.json", "raw/net/ip-addr.txt",
		"raw/net/ip-route.txt", "raw/probe-container/etc-hosts", "raw/proc/112/cmdline", "raw/proc/143/cmdline",
		"raw/proc/143/mountinfo", "raw/proc/2231/cmdline", "raw/proc/71/cmdline", "report.json"}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Path)
		content, ok := files[f.Path]
		if !ok {
			t.Errorf("manifest lists %s, the zip lacks it", f.Path)
			continue
		}
		sum := sha256.Sum256(content)
		if hex.EncodeToString(sum[:]) != f.SHA256 || len(content) != f.Size {
			t.Errorf("%s: manifest says %d bytes sha256 %s; the file has %d bytes sha256 %x", f.Path, f.Size, f.SHA256, len(content), sum)
		}
		if f.Producer == "" {
			t.Errorf("%s: no producer", f.Path)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("file set:\n got %v\nwant %v", got, want)
	}
	if len(files) != len(m.Files)+2 {
		t.Errorf("the zip has %d files, the manifest lists %d (+README, manifest)", len(files), len(m.Files))
	}
	if !m.Redaction.Enabled || m.Redaction.Rules["key-value"] == 0 || m.Redaction.Rules["url-userinfo"] == 0 {
		t.Errorf("redaction record: %+v", m.Redaction)
	}
	for name, content := range files {
		for _, sec := range []string{"plantedtoken123", "plantedpw"} {
			if bytes.Contains(content, []byte(sec)) {
				t.Errorf("%s holds %q", name, sec)
			}
		}
	}
	mi := string(files["raw/proc/143/mountinfo"])
	if !strings.Contains(mi, "1126 1120 0:57 / /run/desktop/mnt/host/c rw,noatime shared:361 - 9p C:\\134 ") {
		t.Errorf("mountinfo line not in proc(5) form:\n%s", mi)
	}
}

func TestBundleDeterministic(t *testing.T) {
	if !bytes.Equal(build(t, false), build(t, false)) {
		t.Error("the same inputs gave different zips")
	}
	if !bytes.Equal(build(t, true), build(t, true)) {
		t.Error("anonymized: the same inputs gave different zips")
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"../../x": "x", `a\b`: "a/b", "/abs/p": "abs/p", "c:x": "c_x"} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Files added concurrently give the same zip as added one by one, and
// each entry reads back (the zip reader checks every entry's CRC-32).
func TestConcurrentAddSameZip(t *testing.T) {
	names := []string{"a.txt", "b/c.json", "d.html", "e.yaml", "f.txt", "g.txt"}
	content := func(i int) []byte {
		return []byte(strings.Repeat("line "+names[i]+" token=plantedtoken123\n", 200*(i+1)))
	}
	when := time.Date(2026, 6, 13, 15, 3, 0, 0, time.UTC)
	zipOf := func(concurrent bool) []byte {
		b := New(redact.New(nil))
		var wg sync.WaitGroup
		for i, n := range names {
			if concurrent {
				wg.Go(func() { b.Add(n, "test", content(i)) })
			} else {
				b.Add(n, "test", content(i))
			}
		}
		wg.Wait()
		var buf bytes.Buffer
		if err := b.Write(&buf, Manifest{CreatedAt: when.Format(time.RFC3339)}, "# readme\n", when); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	one, many := zipOf(false), zipOf(true)
	if !bytes.Equal(one, many) {
		t.Error("concurrent Adds gave another zip than sequential ones")
	}
	files, err := Open(many)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		want := strings.ReplaceAll(string(content(i)), "plantedtoken123", redact.Mask)
		if string(files[n]) != want {
			t.Errorf("%s reads back as %d bytes, want %d (redacted)", n, len(files[n]), len(want))
		}
	}
}

// AddRendered keeps a rendering byte for byte (key order, indentation);
// Add scrubs what it is given.
func TestAddRenderedKeepsBytes(t *testing.T) {
	b := New(redact.New(nil))
	rendered := []byte("{\n  \"zeta\": 1,\n  \"alpha\": \"x\"\n}\n")
	b.AddRendered("report.json", "agent probe -o json", rendered)
	b.Add("engine/info.json", "engine API GET /info", []byte(`{"HttpProxy":"http://user:s3cret@proxy:3128"}`))
	files := map[string]File{}
	for _, f := range b.Files() {
		files[f.Path] = f
	}
	sum := sha256.Sum256(rendered)
	if f := files["report.json"]; f.Size != len(rendered) || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("report.json was changed: %+v", f)
	}
	var zipped bytes.Buffer
	if err := b.Write(&zipped, Manifest{}, "", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		switch f.Name {
		case "report.json":
			if !bytes.Equal(data, rendered) {
				t.Errorf("report.json in the zip = %q", data)
			}
		case "engine/info.json":
			if bytes.Contains(data, []byte("s3cret")) {
				t.Errorf("Add kept a secret: %s", data)
			}
		}
	}
}
