// Package endpoint decides which Docker engine the agent talks to, the same
// way the docker CLI does: --context, --host, DOCKER_HOST, DOCKER_CONTEXT,
// the "currentContext" of config.json, then the platform default. It owns the
// reading of the docker CLI's config.json and context store (meta.json and
// TLS files) and the redaction of endpoint URLs for display.
//
// It only resolves names to an [Endpoint]; it never dials. Building a client
// from an Endpoint is the engine package's job. ssh:// hosts (which the docker
// CLI reaches through an ssh connection helper) are refused with
// [ErrUnsupportedHost].
package endpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultContextName is the docker CLI's built-in context: the engine named by
// --host, DOCKER_HOST or the platform default.
const DefaultContextName = "default"

// Environment variables read by Resolve; the names are the docker CLI's.
const (
	EnvHost       = "DOCKER_HOST"
	EnvContext    = "DOCKER_CONTEXT"
	EnvConfig     = "DOCKER_CONFIG"
	EnvTLS        = "DOCKER_TLS"
	EnvTLSVerify  = "DOCKER_TLS_VERIFY"
	EnvCertPath   = "DOCKER_CERT_PATH"
	EnvAPIVersion = "DOCKER_API_VERSION"
)

// Sentinel errors, one per failure class; Resolve's errors match them with
// errors.Is and read as one line that says what to do.
var (
	ErrConflictingOptions = errors.New("conflicting options")
	ErrContextNotFound    = errors.New("context not found")
	ErrInvalidContext     = errors.New("invalid context")
	ErrInvalidHost        = errors.New("invalid docker host")
	ErrUnsupportedHost    = errors.New("unsupported docker host")
	ErrInvalidAPIVersion  = errors.New("invalid API version")
)

// Options are the inputs of Resolve: the two CLI flags plus the environment.
type Options struct {
	// Host is the --host flag (empty when not given).
	Host string
	// Context is the --context flag (empty when not given).
	Context string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// ConfigDir is the docker CLI config directory; empty means
	// $DOCKER_CONFIG, else ~/.docker.
	ConfigDir string
}

// Source says which input chose the context, for messages and the report.
type Source string

// The sources, in the docker CLI's order of precedence.
const (
	SourceContextFlag Source = "--context"
	SourceHostFlag    Source = "--host"
	SourceHostEnv     Source = EnvHost
	SourceContextEnv  Source = EnvContext
	SourceConfigFile  Source = "config.json"
	SourceDefault     Source = "default"
)

// Endpoint is a resolved engine address and how to secure it.
type Endpoint struct {
	// Context is the docker context name ("default" for the built-in one).
	Context string
	// Source is the input that chose Context.
	Source Source
	// Host is the engine URL (unix://, npipe:// or tcp://). It may carry
	// credentials: print Redacted(), never Host.
	Host string
	// TLS is nil when the connection is not TLS.
	TLS *TLSFiles
	// APIVersion is DOCKER_API_VERSION ("1.41"); empty means negotiate.
	APIVersion string
	// ConfigDir is the docker CLI config directory that was read.
	ConfigDir string
	// Warnings are problems the docker CLI would also only warn about (an
	// unreadable config.json); the endpoint is still usable.
	Warnings []string
}

// TLSFiles names the TLS material of an endpoint. An empty path means the
// file is absent.
type TLSFiles struct {
	CAFile   string
	CertFile string
	KeyFile  string
	// SkipVerify disables server certificate verification
	// (DOCKER_TLS without DOCKER_TLS_VERIFY, or a context's SkipTLSVerify).
	SkipVerify bool
}

// Redacted is Host without URL credentials (tcp://user:pass@h → tcp://h).
func (e Endpoint) Redacted() string { return RedactHost(e.Host) }

// String is Redacted, so that printing an Endpoint never leaks credentials.
func (e Endpoint) String() string { return e.Redacted() }

// Resolve picks the engine endpoint exactly as the docker CLI's
// resolveContextName and default-endpoint logic do.
func Resolve(opts Options) (Endpoint, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	configDir, err := configDir(opts.ConfigDir, getenv)
	if err != nil {
		return Endpoint{}, err
	}
	ep := Endpoint{ConfigDir: configDir}

	if v := strings.TrimSpace(getenv(EnvAPIVersion)); v != "" {
		v = strings.TrimPrefix(v, "v")
		if !apiVersionRE.MatchString(v) {
			return Endpoint{}, errorf(ErrInvalidAPIVersion, "%s=%q is not a valid API version: use MAJOR.MINOR (e.g. 1.41) or unset it", EnvAPIVersion, getenv(EnvAPIVersion))
		}
		ep.APIVersion = v
	}

	if opts.Host != "" && opts.Context != "" {
		return Endpoint{}, errorf(ErrConflictingOptions, "conflicting options: cannot use both --host and --context")
	}

	name, source := DefaultContextName, SourceDefault
	switch {
	case opts.Context != "":
		name, source = opts.Context, SourceContextFlag
	case opts.Host != "":
		source = SourceHostFlag
	case getenv(EnvHost) != "":
		source = SourceHostEnv
	case getenv(EnvContext) != "":
		name, source = getenv(EnvContext), SourceContextEnv
	default:
		current, warn := currentContext(configDir)
		if warn != "" {
			ep.Warnings = append(ep.Warnings, warn)
		}
		if current != "" {
			name, source = current, SourceConfigFile
		}
	}
	ep.Context, ep.Source = name, source

	if name == DefaultContextName {
		err = resolveDefault(&ep, opts.Host, getenv)
	} else {
		err = resolveNamed(&ep, name, source)
	}
	if err != nil {
		return Endpoint{}, err
	}
	return ep, nil
}

var apiVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

func configDir(dir string, getenv func(string) string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if dir = getenv(EnvConfig); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the docker config directory: %w (set %s)", err, EnvConfig)
	}
	return filepath.Join(home, ".docker"), nil
}

// currentContext reads "currentContext" from config.json. A missing file is
// normal; an unreadable one is a warning, as in the docker CLI, which then
// carries on with the default context.
func currentContext(configDir string) (name, warning string) {
	path := filepath.Join(configDir, "config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ""
	}
	if err != nil {
		return "", fmt.Sprintf("cannot read %s: %v; using the default context", path, err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Sprintf("cannot parse %s: %v; using the default context", path, err)
	}
	return cfg.CurrentContext, ""
}

func resolveDefault(ep *Endpoint, hostFlag string, getenv func(string) string) error {
	tlsOn := getenv(EnvTLS) != "" || getenv(EnvTLSVerify) != ""
	raw, origin := hostFlag, "--host"
	if raw == "" {
		raw, origin = getenv(EnvHost), EnvHost
	}
	host, err := normalizeHost(raw, tlsOn)
	if err != nil {
		return wrapHostErr(err, raw, origin)
	}
	ep.Host = host
	if tlsOn {
		certPath := getenv(EnvCertPath)
		if certPath == "" {
			certPath = ep.ConfigDir
		}
		files := &TLSFiles{
			CAFile:     filepath.Join(certPath, "ca.pem"),
			CertFile:   existing(filepath.Join(certPath, "cert.pem")),
			KeyFile:    existing(filepath.Join(certPath, "key.pem")),
			SkipVerify: getenv(EnvTLSVerify) == "",
		}
		ep.TLS = files
	}
	return nil
}

// contextMeta is the part of the docker CLI's contexts/meta/<id>/meta.json
// that names the engine.
type contextMeta struct {
	Name      string `json:"Name"`
	Endpoints map[string]struct {
		Host          string `json:"Host"`
		SkipTLSVerify bool   `json:"SkipTLSVerify"`
	} `json:"Endpoints"`
}

// ContextDirName is the directory name the docker CLI's context store gives
// a context: the hex SHA-256 of its name.
func ContextDirName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func resolveNamed(ep *Endpoint, name string, source Source) error {
	id := ContextDirName(name)
	metaPath := filepath.Join(ep.ConfigDir, "contexts", "meta", id, "meta.json")
	data, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		from := ""
		switch source {
		case SourceContextEnv:
			from = " (from " + EnvContext + ")"
		case SourceConfigFile:
			from = " (the current context in " + filepath.Join(ep.ConfigDir, "config.json") + ")"
		}
		return errorf(ErrContextNotFound, "context %q%s not found: run \"docker context ls\" to see the contexts", name, from)
	}
	if err != nil {
		return errorf(ErrInvalidContext, "read context %q: %w", name, err)
	}
	var meta contextMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return errorf(ErrInvalidContext, "context %q: cannot parse %s: %w", name, metaPath, err)
	}
	dockerEP, ok := meta.Endpoints["docker"]
	if !ok {
		return errorf(ErrInvalidContext, "context %q has no docker endpoint: recreate it with \"docker context create\"", name)
	}
	host, err := normalizeHost(dockerEP.Host, false)
	if err != nil {
		return wrapHostErr(err, dockerEP.Host, "context "+fmt.Sprintf("%q", name))
	}
	ep.Host = host

	tlsDir := filepath.Join(ep.ConfigDir, "contexts", "tls", id, "docker")
	files := &TLSFiles{
		CAFile:     existing(filepath.Join(tlsDir, "ca.pem")),
		CertFile:   existing(filepath.Join(tlsDir, "cert.pem")),
		KeyFile:    existing(filepath.Join(tlsDir, "key.pem")),
		SkipVerify: dockerEP.SkipTLSVerify,
	}
	// As the docker CLI: TLS when the context has TLS material or asks to
	// skip verification.
	if files.CAFile != "" || files.CertFile != "" || files.KeyFile != "" || files.SkipVerify {
		ep.TLS = files
	}
	return nil
}

// existing returns path when it names an existing file, else "".
func existing(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

func wrapHostErr(err error, raw, origin string) error {
	var ce *classError
	if errors.As(err, &ce) && errors.Is(ce.class, ErrUnsupportedHost) {
		return err
	}
	return errorf(ErrInvalidHost, "invalid docker host %q (from %s): %w", RedactHost(raw), origin, err)
}

// classError is a one-line message that also matches a sentinel class.
type classError struct {
	class error
	err   error
}

func (e *classError) Error() string   { return e.err.Error() }
func (e *classError) Unwrap() []error { return []error{e.class, e.err} }

// errorf formats a message (which may wrap a cause with %w) and makes
// errors.Is(err, class) true without repeating the class's text.
func errorf(class error, format string, args ...any) error {
	return &classError{class: class, err: fmt.Errorf(format, args...)}
}
