package endpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// storeFixture builds a docker CLI config directory: config.json (when
// config is not empty) and contexts written the way "docker context create"
// stores them.
type storeFixture struct {
	config   string
	contexts []contextFixture
}

type contextFixture struct {
	name     string
	meta     string // raw meta.json; empty means generated from host/skip
	host     string
	skip     bool
	tlsFiles []string // names under tls/<id>/docker
}

func (f storeFixture) write(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if f.config != "" {
		mustWrite(t, filepath.Join(dir, "config.json"), f.config)
	}
	for _, c := range f.contexts {
		// Computed here independently of ContextDirName, as the store does.
		sum := sha256.Sum256([]byte(c.name))
		id := hex.EncodeToString(sum[:])
		meta := c.meta
		if meta == "" {
			skip := "false"
			if c.skip {
				skip = "true"
			}
			meta = `{"Name":"` + c.name + `","Metadata":{"Description":"fixture"},"Endpoints":{"docker":{"Host":"` + c.host + `","SkipTLSVerify":` + skip + `}}}`
		}
		mustWrite(t, filepath.Join(dir, "contexts", "meta", id, "meta.json"), meta)
		for _, name := range c.tlsFiles {
			mustWrite(t, filepath.Join(dir, "contexts", "tls", id, "docker", name), "pem")
		}
	}
	return dir
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	desktop := contextFixture{name: "desktop-linux", host: "unix:///home/u/.docker/desktop/docker.sock"}
	remote := contextFixture{name: "remote", host: "tcp://admin:s3cret@10.0.0.5:2376", tlsFiles: []string{"ca.pem", "cert.pem", "key.pem"}}
	insecure := contextFixture{name: "insecure", host: "tcp://10.0.0.6:2376", skip: true}

	type want struct {
		context  string
		source   Source
		host     string
		tls      *TLSFiles // paths relative to the config dir
		api      string
		warnings int
	}
	tests := []struct {
		name    string
		store   storeFixture
		opts    Options
		env     map[string]string
		want    want
		wantErr error
		errText string
	}{
		{
			name: "nothing set gives the platform default",
			want: want{context: "default", source: SourceDefault, host: DefaultHost},
		},
		{
			name: "host flag",
			opts: Options{Host: "tcp://192.168.1.10"},
			env:  map[string]string{EnvContext: "remote"},
			want: want{context: "default", source: SourceHostFlag, host: "tcp://192.168.1.10:2375"},
		},
		{
			name:    "host and context flags conflict",
			opts:    Options{Host: "tcp://h:2375", Context: "remote"},
			wantErr: ErrConflictingOptions,
			errText: "conflicting options: cannot use both --host and --context",
		},
		{
			name:  "context flag beats DOCKER_HOST",
			store: storeFixture{contexts: []contextFixture{desktop}},
			opts:  Options{Context: "desktop-linux"},
			env:   map[string]string{EnvHost: "tcp://ignored:2375"},
			want:  want{context: "desktop-linux", source: SourceContextFlag, host: desktop.host},
		},
		{
			name:  "DOCKER_HOST beats DOCKER_CONTEXT and config.json",
			store: storeFixture{config: `{"currentContext":"desktop-linux"}`, contexts: []contextFixture{desktop}},
			env:   map[string]string{EnvHost: "unix:///tmp/d.sock", EnvContext: "desktop-linux"},
			want:  want{context: "default", source: SourceHostEnv, host: "unix:///tmp/d.sock"},
		},
		{
			name:  "DOCKER_CONTEXT beats config.json",
			store: storeFixture{config: `{"currentContext":"remote"}`, contexts: []contextFixture{desktop, remote}},
			env:   map[string]string{EnvContext: "desktop-linux"},
			want:  want{context: "desktop-linux", source: SourceContextEnv, host: desktop.host},
		},
		{
			name:  "config.json currentContext",
			store: storeFixture{config: `{"auths":{},"currentContext":"desktop-linux"}`, contexts: []contextFixture{desktop}},
			want:  want{context: "desktop-linux", source: SourceConfigFile, host: desktop.host},
		},
		{
			name:  "config.json naming the default context",
			store: storeFixture{config: `{"currentContext":"default"}`},
			want:  want{context: "default", source: SourceConfigFile, host: DefaultHost},
		},
		{
			name: "context default explicitly still honours DOCKER_HOST",
			opts: Options{Context: "default"},
			env:  map[string]string{EnvHost: "tcp://10.1.1.1:2375"},
			want: want{context: "default", source: SourceContextFlag, host: "tcp://10.1.1.1:2375"},
		},
		{
			name:  "unparsable config.json warns and uses the default",
			store: storeFixture{config: `{"currentContext":`},
			want:  want{context: "default", source: SourceDefault, host: DefaultHost, warnings: 1},
		},
		{
			name:    "missing context from the flag",
			opts:    Options{Context: "foo"},
			wantErr: ErrContextNotFound,
			errText: `context "foo" not found: run "docker context ls" to see the contexts`,
		},
		{
			name:    "missing context from DOCKER_CONTEXT",
			env:     map[string]string{EnvContext: "foo"},
			wantErr: ErrContextNotFound,
			errText: `context "foo" (from DOCKER_CONTEXT) not found: run "docker context ls" to see the contexts`,
		},
		{
			name:  "context with TLS material",
			store: storeFixture{contexts: []contextFixture{remote}},
			opts:  Options{Context: "remote"},
			want: want{context: "remote", source: SourceContextFlag, host: remote.host, tls: &TLSFiles{
				CAFile:   "contexts/tls/" + ContextDirName("remote") + "/docker/ca.pem",
				CertFile: "contexts/tls/" + ContextDirName("remote") + "/docker/cert.pem",
				KeyFile:  "contexts/tls/" + ContextDirName("remote") + "/docker/key.pem",
			}},
		},
		{
			name:  "context that only skips verification",
			store: storeFixture{contexts: []contextFixture{insecure}},
			opts:  Options{Context: "insecure"},
			want:  want{context: "insecure", source: SourceContextFlag, host: insecure.host, tls: &TLSFiles{SkipVerify: true}},
		},
		{
			name:    "context without a docker endpoint",
			store:   storeFixture{contexts: []contextFixture{{name: "k8s", meta: `{"Name":"k8s","Endpoints":{"kubernetes":{}}}`}}},
			opts:    Options{Context: "k8s"},
			wantErr: ErrInvalidContext,
			errText: `context "k8s" has no docker endpoint: recreate it with "docker context create"`,
		},
		{
			name:    "context with broken meta.json",
			store:   storeFixture{contexts: []contextFixture{{name: "broken", meta: `{`}}},
			opts:    Options{Context: "broken"},
			wantErr: ErrInvalidContext,
		},
		{
			name:    "ssh host from DOCKER_HOST",
			env:     map[string]string{EnvHost: "ssh://me:pw@build-box"},
			wantErr: ErrUnsupportedHost,
			errText: `ssh:// docker hosts are not supported yet (ssh://build-box): use a tcp://, unix:// or npipe:// endpoint, or tunnel the socket with "ssh -L"`,
		},
		{
			name:    "ssh host from a context",
			store:   storeFixture{contexts: []contextFixture{{name: "box", host: "ssh://me@box"}}},
			opts:    Options{Context: "box"},
			wantErr: ErrUnsupportedHost,
		},
		{
			name:    "unknown scheme",
			opts:    Options{Host: "http://u:hunter2@h:2375"},
			wantErr: ErrInvalidHost,
			errText: `invalid docker host "http://h:2375" (from --host): unknown scheme "http": use unix://, npipe:// or tcp://`,
		},
		{
			name: "DOCKER_TLS_VERIFY with DOCKER_CERT_PATH",
			env:  map[string]string{EnvHost: "tcp://10.0.0.9", EnvTLSVerify: "1", EnvCertPath: "CERTS"},
			want: want{context: "default", source: SourceHostEnv, host: "tcp://10.0.0.9:2376", tls: &TLSFiles{
				CAFile: "CERTS/ca.pem", CertFile: "CERTS/cert.pem", KeyFile: "CERTS/key.pem",
			}},
		},
		{
			name: "DOCKER_TLS alone skips verification and reads the config dir",
			env:  map[string]string{EnvHost: "tcp://10.0.0.9:2376", EnvTLS: "1"},
			want: want{context: "default", source: SourceHostEnv, host: "tcp://10.0.0.9:2376", tls: &TLSFiles{
				CAFile: "ca.pem", SkipVerify: true,
			}},
		},
		{
			name: "DOCKER_API_VERSION",
			env:  map[string]string{EnvAPIVersion: "v1.41"},
			want: want{context: "default", source: SourceDefault, host: DefaultHost, api: "1.41"},
		},
		{
			name:    "bad DOCKER_API_VERSION",
			env:     map[string]string{EnvAPIVersion: "latest"},
			wantErr: ErrInvalidAPIVersion,
			errText: `DOCKER_API_VERSION="latest" is not a valid API version: use MAJOR.MINOR (e.g. 1.41) or unset it`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.store.write(t)
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if p, ok := env[EnvCertPath]; ok {
				env[EnvCertPath] = filepath.Join(dir, p)
				mustWrite(t, filepath.Join(dir, p, "cert.pem"), "pem")
				mustWrite(t, filepath.Join(dir, p, "key.pem"), "pem")
			}
			opts := tt.opts
			opts.ConfigDir = dir
			opts.Getenv = envOf(env)

			got, err := Resolve(opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve() error = %v, want %v", err, tt.wantErr)
				}
				if tt.errText != "" && err.Error() != tt.errText {
					t.Errorf("Resolve() error text\n got: %s\nwant: %s", err, tt.errText)
				}
				if strings.ContainsAny(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			w := tt.want
			if got.Context != w.context || got.Source != w.source || got.Host != w.host || got.APIVersion != w.api {
				t.Errorf("Resolve() = context %q source %q host %q api %q, want %q %q %q %q",
					got.Context, got.Source, got.Host, got.APIVersion, w.context, w.source, w.host, w.api)
			}
			if len(got.Warnings) != w.warnings {
				t.Errorf("warnings = %q, want %d", got.Warnings, w.warnings)
			}
			if got.ConfigDir != dir {
				t.Errorf("ConfigDir = %q, want %q", got.ConfigDir, dir)
			}
			var wantTLS *TLSFiles
			if w.tls != nil {
				abs := func(p string) string {
					if p == "" {
						return ""
					}
					return filepath.Join(dir, filepath.FromSlash(p))
				}
				wantTLS = &TLSFiles{CAFile: abs(w.tls.CAFile), CertFile: abs(w.tls.CertFile), KeyFile: abs(w.tls.KeyFile), SkipVerify: w.tls.SkipVerify}
			}
			if !reflect.DeepEqual(got.TLS, wantTLS) {
				t.Errorf("TLS = %+v, want %+v", got.TLS, wantTLS)
			}
		})
	}
}

func TestResolveConfigDirFromEnv(t *testing.T) {
	dir := storeFixture{
		config:   `{"currentContext":"desktop-linux"}`,
		contexts: []contextFixture{{name: "desktop-linux", host: "unix:///x.sock"}},
	}.write(t)
	got, err := Resolve(Options{Getenv: envOf(map[string]string{EnvConfig: dir})})
	if err != nil {
		t.Fatal(err)
	}
	if got.ConfigDir != dir || got.Context != "desktop-linux" || got.Host != "unix:///x.sock" {
		t.Errorf("Resolve() = %+v", got)
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		in, want string
		tls      bool
		wantErr  bool
	}{
		{in: "", want: DefaultHost},
		{in: "  ", want: DefaultHost},
		{in: "unix://", want: "unix:///var/run/docker.sock"},
		{in: "unix:///run/user/1000/docker.sock", want: "unix:///run/user/1000/docker.sock"},
		{in: "npipe://", want: "npipe:////./pipe/docker_engine"},
		{in: "npipe:////./pipe/dockerDesktopLinuxEngine", want: "npipe:////./pipe/dockerDesktopLinuxEngine"},
		{in: "tcp://10.0.0.1", want: "tcp://10.0.0.1:2375"},
		{in: "tcp://10.0.0.1", tls: true, want: "tcp://10.0.0.1:2376"},
		{in: "tcp://:2375", want: "tcp://localhost:2375"},
		{in: "10.0.0.1:2375", want: "tcp://10.0.0.1:2375"},
		{in: "tcp://[::1]", want: "tcp://[::1]:2375"},
		{in: "tcp://u:p@h:1234/base", want: "tcp://u:p@h:1234/base"},
		{in: "tcp://h:99999", wantErr: true},
		{in: "tcp://h:port", wantErr: true},
		{in: "fd://", wantErr: true},
		{in: "ssh://h", wantErr: true},
	}
	for _, tt := range tests {
		got, err := normalizeHost(tt.in, tt.tls)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("normalizeHost(%q, %v) = %q, %v; want %q, err %v", tt.in, tt.tls, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRedactHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tcp://user:pass@host:2376", "tcp://host:2376"},
		{"tcp://user@host:2376/base", "tcp://host:2376/base"},
		{"tcp://user:p/a@ss@host:2376", "tcp://host:2376"},
		{"tcp://host:2375", "tcp://host:2375"},
		{"ssh://me@box", "ssh://box"},
		{"user:pw@host:2375", "host:2375"},
		{"unix:///var/run/docker.sock", "unix:///var/run/docker.sock"},
		{"npipe:////./pipe/docker_engine", "npipe:////./pipe/docker_engine"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactHost(tt.in); got != tt.want {
			t.Errorf("RedactHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	ep := Endpoint{Host: "tcp://admin:s3cret@10.0.0.5:2376"}
	for _, s := range []string{ep.String(), ep.Redacted()} {
		if strings.Contains(s, "s3cret") || strings.Contains(s, "admin") {
			t.Errorf("endpoint printed with credentials: %q", s)
		}
	}
}

func FuzzRedactHost(f *testing.F) {
	for _, s := range []string{"tcp://user:pass@host:2376", "ssh://me@box", "unix:///x", "u:p@h", "tcp://a@b@c/d"} {
		f.Add(s, "hunter2")
	}
	f.Fuzz(func(t *testing.T, host, secret string) {
		if secret == "" || strings.ContainsAny(secret, "@:/") {
			return
		}
		scheme, rest, ok := strings.Cut(host, "://")
		if !ok || strings.EqualFold(scheme, "unix") || strings.EqualFold(scheme, "npipe") {
			return
		}
		// Put the secret in the userinfo of whatever host the fuzzer made.
		withCreds := scheme + "://user:" + secret + "@" + rest
		if got := RedactHost(withCreds); strings.Contains(got, "user:"+secret+"@") {
			t.Fatalf("RedactHost(%q) = %q leaks the credentials", withCreds, got)
		}
	})
}

func TestContextDirName(t *testing.T) {
	// The docker CLI's store id of "desktop-linux" (digest.FromString).
	const want = "fe9c6bd7a66301f49ca9b6a70b217107cd1284598bfc254700c989b916da791e"
	if got := ContextDirName("desktop-linux"); got != want {
		t.Errorf("ContextDirName = %s, want %s", got, want)
	}
}
