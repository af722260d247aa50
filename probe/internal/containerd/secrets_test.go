package containerd

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

var maskTests = []struct {
	in, want string
}{
	{`  password = "S3cret"`, `  password = "REDACTED"`},
	{`  auth = "YWxpY2U6UzNjcmV0"`, `  auth = "REDACTED"`},
	{`identitytoken = 'tok'`, `identitytoken = "REDACTED"`},
	{`auth = { username = "a", password = "b" }`, `auth = "REDACTED"`},
	{`headers = { Authorization = ["Basic eHg6eXk="] }`, `headers = { Authorization = "REDACTED" }`},
	{`  "password" = "x"`, `  "password" = "REDACTED"`},
	{`[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example.com".auth]`, `[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example.com".auth]`},
	{`  username = "alice"`, `  username = "alice"`},
	{`root = "/var/lib/containerd"`, `root = "/var/lib/containerd"`},
	{`token_file = "/etc/tok"`, `token_file = "/etc/tok"`},
	{`password = "with \" quote"`, `password = "REDACTED"`},
}

func TestMaskSecrets(t *testing.T) {
	for _, tt := range maskTests {
		if got := MaskSecrets(tt.in); got != tt.want {
			t.Errorf("MaskSecrets(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskSecretsKeepsTheRest(t *testing.T) {
	in := configInput(t, "file:rancher-desktop.toml")
	if got := MaskSecrets(in); got != in {
		t.Errorf("a config without credentials changed:\n%s", got)
	}
}

func FuzzMaskSecrets(f *testing.F) {
	for _, tt := range maskTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := MaskSecrets(s)
		// Masking is stable: a second pass changes nothing.
		if again := MaskSecrets(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
		if strings.Count(out, "\n") != strings.Count(s, "\n") {
			t.Fatalf("line count changed: %q -> %q", s, out)
		}
	})
}

func TestMaskValue(t *testing.T) {
	v, err := ParseConfig(strings.NewReader(`[plugins."cri".registry.configs."r".auth]
username = "alice"
password = "S3cret"
auth = "YWxpY2U6"
[[x]]
Token = "t0k"
[plugins."cri".registry.headers]
Authorization = ["Basic eHg="]
root = "/var/lib/containerd"
`))
	if err != nil {
		t.Fatal(err)
	}
	MaskValue(v)
	b, _ := protojson.Marshal(v)
	for _, secret := range []string{"S3cret", "YWxpY2U6", "t0k", "eHg="} {
		if strings.Contains(string(b), secret) {
			t.Errorf("%s still in %s", secret, b)
		}
	}
	if !strings.Contains(string(b), "/var/lib/containerd") {
		t.Errorf("other values lost: %s", b)
	}
	// The whole auth table goes (user name included): conservative.
	r := v.GetStructValue().GetFields()["plugins"].GetStructValue().GetFields()["cri"].GetStructValue().GetFields()["registry"].
		GetStructValue().GetFields()["configs"].GetStructValue().GetFields()["r"].GetStructValue().GetFields()
	if r["auth"].GetStringValue() != "REDACTED" {
		t.Errorf("auth table = %v", r["auth"])
	}
}
