package redact

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// secrets are planted values; none may survive scrubbing.
var secrets = []string{
	"hunter2pass", "s3cr3tT0ken", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "mF_9.B5f-4.1JqM", "p%zzword", "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
	"labelsecretvalue", "userinfopw",
}

func TestStringRules(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://alice:hunter2pass@registry.example.com/v2/", "https://REDACTED@registry.example.com/v2/"},
		// Does not parse (bad escape, space in host): still caught.
		{"http://bob:p%zzword@[bad host", "http://REDACTED@[bad host"},
		{"tcp://user@10.0.0.1:2376", "tcp://REDACTED@10.0.0.1:2376"},
		{"password=hunter2pass other=1", "password=REDACTED other=1"},
		{`{"registry_password": "hunter2pass"}`, `{"registry_password": "REDACTED"}`},
		{"TOKEN: s3cr3tT0ken", "TOKEN: REDACTED"},
		{"Authorization: Bearer mF_9.B5f-4.1JqM", "Authorization: Bearer REDACTED"},
		{"key AKIAIOSFODNN7EXAMPLE here", "key REDACTED here"},
		{"aws_secret_access_key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "aws_secret_access_key=REDACTED"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "jwt REDACTED end"},
		{"a\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\nb", "a\n-----BEGIN REDACTED-----\nb"},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "-----BEGIN REDACTED-----"},
		{"ghp_abcdefghijklmnopqrstuvwxyz0123456789", "REDACTED"},
		// Left alone.
		{"--config-file /run/config/docker/daemon.json", "--config-file /run/config/docker/daemon.json"},
		{"name=seccomp,profile=unconfined", "name=seccomp,profile=unconfined"},
		{"https://docs.docker.com/desktop/", "https://docs.docker.com/desktop/"},
		{"password=REDACTED", "password=REDACTED"},
	} {
		s := New(nil)
		if got := s.String(tc.in); got != tc.want {
			t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestArgv(t *testing.T) {
	s := New(nil)
	got := s.Argv([]string{"dockerd", "--password", "hunter2pass", "--label", "token=s3cr3tT0ken", "--token=abc123456", "--debug"}, "argv")
	want := []string{"dockerd", "--password", "REDACTED", "--label", "token=REDACTED", "--token=REDACTED", "--debug"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBytesJSON(t *testing.T) {
	s := New(nil)
	in := `{"Labels":["token=s3cr3tT0ken","env=dev"],"auths":{"r.example":{"auth":"dXNlcjpodW50ZXIycGFzcw=="}},"registry-mirrors":["https://alice:userinfopw@mirror.example"],"n":1}`
	out := string(s.Bytes([]byte(in), "engine/info.json"))
	for _, sec := range []string{"s3cr3tT0ken", "dXNlcjpodW50ZXIycGFzcw", "userinfopw"} {
		if strings.Contains(out, sec) {
			t.Errorf("%q survived:\n%s", sec, out)
		}
	}
	if !strings.Contains(out, `"env=dev"`) || !strings.Contains(out, `"n": 1`) {
		t.Errorf("harmless values were changed:\n%s", out)
	}
	if s.Counts()["json-key"] == 0 || len(s.Locations()) != 1 || s.Locations()[0] != "engine/info.json" {
		t.Errorf("counts %v locations %v", s.Counts(), s.Locations())
	}
}

// plantedReport has a secret in every kind of place a report has one.
func plantedReport(t *testing.T) *probev1.Report {
	t.Helper()
	cfg, err := structpb.NewValue(map[string]any{
		"registry-mirrors": []any{"https://alice:userinfopw@mirror.example.com"},
		"labels":           []any{"token=s3cr3tT0ken"},
		"proxies":          map[string]any{"http-proxy": "http://u:hunter2pass@proxy:3128"},
		"client_secret":    "labelsecretvalue",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &probev1.Report{
		Engine: &probev1.Engine{Host: "tcp://alice:hunter2pass@engine:2376", Networks: []*probev1.Network{{
			Name: "n", Options: map[string]string{"com.example.token": "s3cr3tT0ken", "x": "Bearer mF_9.B5f-4.1JqM"}}}},
		Daemon: &probev1.Daemon{
			Argv:   []string{"dockerd", "--label", "aws=AKIAIOSFODNN7EXAMPLE", "--registry-password", "hunter2pass"},
			Flags:  []*probev1.Flag{{Name: "registry-password", Value: "hunter2pass", HasValue: true}, {Name: "label", Value: "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}},
			Config: cfg, ConfigRaw: "{\n\"auth\": \"ghp_abcdefghijklmnopqrstuvwxyz0123456789\",\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
		},
		Processes: []*probev1.Process{{Argv: []string{"kubelet", "--token", "s3cr3tT0ken", "http://bob:p%zzword@[bad"}}},
		Errors:    []*probev1.SectionError{{Message: "dial https://alice:userinfopw@x: failed"}},
	}
}

func TestReportHasNoSecretLeft(t *testing.T) {
	r := plantedReport(t)
	s := New(nil)
	clean := s.Report(r)
	b, err := protojson.Marshal(clean)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets {
		if strings.Contains(string(b), sec) {
			t.Errorf("secret %q survived in %s", sec, b)
		}
	}
	// The input is not modified.
	if r.GetDaemon().GetFlags()[0].GetValue() != "hunter2pass" {
		t.Error("Report modified its input")
	}
	if len(s.Locations()) == 0 {
		t.Error("no locations recorded")
	}
}

func TestDesktopFixtureUnchanged(t *testing.T) {
	data, err := os.ReadFile("../report/testdata/desktop.report.json")
	if err != nil {
		t.Fatal(err)
	}
	var r probev1.Report
	if err := protojson.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	s := New(nil)
	a, _ := protojson.Marshal(&r)
	b, _ := protojson.Marshal(s.Report(&r))
	if string(a) != string(b) {
		t.Errorf("a report with no secrets was changed; counts %v at %v", s.Counts(), s.Locations())
	}
}

func FuzzString(f *testing.F) {
	for _, s := range secrets {
		f.Add("x=" + s)
	}
	f.Add("https://a:b@c")
	f.Fuzz(func(t *testing.T, in string) {
		checkMay(t, in)
		s := New(NewAnonymizer())
		out := s.String(in)
		if again := s.String(out); again != out {
			t.Errorf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

// checkMay: a rule's prefilter never skips a string its regexp matches.
func checkMay(t *testing.T, in string) {
	t.Helper()
	if !foldsASCII(in) {
		return
	}
	for _, r := range rules {
		if r.re.MatchString(in) && !r.may(in, asciiLower(in)) {
			t.Errorf("rule %s: prefilter skips %q, which its regexp matches", r.name, in)
		}
		if r.fast != nil {
			id := func(m string) string { return "<" + m + ">" }
			if want, got := r.re.ReplaceAllStringFunc(in, id), r.replaceAt(in, asciiLower(in), id); got != want {
				t.Errorf("rule %s: the fast path finds %q in %q, the regexp %q", r.name, got, in, want)
			}
		}
	}
}

func TestMayIsNecessary(t *testing.T) {
	for _, in := range []string{
		"https://alice:hunter2pass@registry.example.com/v2/", "tcp://user@10.0.0.1:2376",
		"PASSWORD=x", "Api-Key: x", "X_SESSION-KEY=1", "Credentials: y", "my_signature=z", "PWD=/root",
		"Authorization: BASIC abcdefgh123", "TOKEN\tabcdefghij", "bearer\fabcdefghij",
		"eyJabcd.efgh.ij", "AKIAIOSFODNN7EXAMPLE", "AIzaSyA-1234567890abcdefghijklmnopqrstu",
		"gho_abcdefghijklmnopqrstuvwxyz0123456789", "github_pat_abcdefghijklmnopqrstuvwxyz0123456789",
		"xoxb-1234567890-abc", "sk_live_abcdefghijklmnop", "rk_test_abcdefghijklmnop",
		"-----BEGIN X-----", "x=" + strings.Join(secrets, " y="),
	} {
		checkMay(t, in)
		matched := false
		for _, r := range rules {
			matched = matched || r.re.MatchString(in)
		}
		if !matched {
			t.Errorf("%q matches no rule: not a useful case", in)
		}
	}
}

// The key-value rule's fast path (replaceAt) finds what its regexp finds:
// adjacent keys, a match ending where the next key begins, keys inside
// longer words, values across lines, non-ASCII text around keys, and the
// rendered reports.
func TestKeyValueFastPath(t *testing.T) {
	cases := []string{
		"password=x token=y", `password="x"token=y`, "xpassword:\n  y", "a.b-c_token: 'q r'",
		"·password=x", "pass·word=x", "password=\"multi\nline\"", "tokentoken=1", "token token=2",
		"PASSWORD=x;Api_Key=y&secret=z", "keys: [a, b] key", "password", "=password=x", "--pass=--token=y",
		"Kelvin: xpasswordK=1", "passwordſ=1",
	}
	for _, f := range []string{"desktop.golden.html", "desktop.golden.txt", "desktop.golden.json", "findings.golden.html"} {
		b, err := os.ReadFile("../report/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, string(b))
	}
	for _, in := range cases {
		checkMay(t, in)
	}
}
