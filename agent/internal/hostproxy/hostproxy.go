// Package hostproxy reads the proxy settings of the machine the agent runs
// on: the HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment (either case,
// as Go's and curl's clients read them) on every OS, and the Internet
// Settings proxy of the current user on Windows. The values may carry
// credentials: the report's renderers redact them like every other URL.
package hostproxy

import (
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// SourceEnvironment names the environment as a proxy source.
const SourceEnvironment = "environment"

// Collect returns the host's proxy settings, the environment's first;
// getenv is os.Getenv outside tests. A source with nothing set is left out.
func Collect(getenv func(string) string) []*probev1.ProxySetting {
	var out []*probev1.ProxySetting
	if p := FromEnv(getenv); p != nil {
		out = append(out, p)
	}
	if p := internetSettings(); p != nil {
		out = append(out, p)
	}
	return out
}

// FromEnv reads the proxy environment; the upper-case name wins when both
// are set, as in golang.org/x/net/http/httpproxy. nil when none is set.
func FromEnv(getenv func(string) string) *probev1.ProxySetting {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return getenv(strings.ToLower(name))
	}
	p := &probev1.ProxySetting{Source: SourceEnvironment, HttpProxy: get("HTTP_PROXY"), HttpsProxy: get("HTTPS_PROXY"), NoProxy: get("NO_PROXY")}
	if p.HttpProxy == "" && p.HttpsProxy == "" && p.NoProxy == "" {
		return nil
	}
	return p
}

// ParseInternetSettings turns Windows' ProxyServer and ProxyOverride
// values into a setting: ProxyServer is "host:port" for every protocol or
// "http=host:port;https=host:port"; ProxyOverride is ";"-separated, with
// "<local>" for names without a dot.
func ParseInternetSettings(server, override string) *probev1.ProxySetting {
	p := &probev1.ProxySetting{Source: "Internet Settings"}
	if strings.Contains(server, "=") {
		for _, part := range strings.Split(server, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch strings.ToLower(k) {
			case "http":
				p.HttpProxy = withScheme(v)
			case "https":
				p.HttpsProxy = withScheme(v)
			}
		}
	} else if s := strings.TrimSpace(server); s != "" {
		p.HttpProxy, p.HttpsProxy = withScheme(s), withScheme(s)
	}
	var np []string
	for _, o := range strings.Split(override, ";") {
		if o = strings.TrimSpace(o); o != "" {
			np = append(np, o)
		}
	}
	p.NoProxy = strings.Join(np, ",")
	return p
}

func withScheme(hostport string) string {
	if hostport == "" || strings.Contains(hostport, "://") {
		return hostport
	}
	return "http://" + hostport
}
