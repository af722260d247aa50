package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Default TCP ports, as the docker CLI fills them in.
const (
	defaultTCPPort = 2375
	defaultTLSPort = 2376
)

// normalizeHost turns a host as a user writes it into the URL the client
// dials, following the docker CLI's opts.ParseHost: empty means the platform
// default, a bare address means tcp, "unix://" and "npipe://" alone mean the
// default socket or pipe, and a tcp address gets localhost and port 2375
// (2376 with TLS) when they are missing.
func normalizeHost(raw string, tlsOn bool) (string, error) {
	host := strings.TrimSpace(raw)
	if host == "" {
		return DefaultHost, nil
	}
	scheme, addr, ok := strings.Cut(host, "://")
	if !ok {
		scheme, addr = "tcp", host
	}
	switch strings.ToLower(scheme) {
	case "unix":
		if addr == "" {
			return defaultUnixHost, nil
		}
		return "unix://" + addr, nil
	case "npipe":
		if addr == "" {
			return defaultNpipeHost, nil
		}
		return "npipe://" + addr, nil
	case "tcp":
		return normalizeTCP(addr, tlsOn)
	case "ssh":
		return "", errorf(ErrUnsupportedHost, "ssh:// docker hosts are not supported yet (%s): use a tcp://, unix:// or npipe:// endpoint, or tunnel the socket with \"ssh -L\"", RedactHost(host))
	default:
		return "", fmt.Errorf("unknown scheme %q: use unix://, npipe:// or tcp://", scheme)
	}
}

func normalizeTCP(addr string, tlsOn bool) (string, error) {
	u, err := url.Parse("tcp://" + addr)
	if err != nil {
		// url errors quote the whole URL, credentials included.
		return "", errors.New("not a valid tcp address")
	}
	hostname, port := u.Hostname(), u.Port()
	if hostname == "" {
		hostname = "localhost"
	}
	if port == "" {
		p := defaultTCPPort
		if tlsOn {
			p = defaultTLSPort
		}
		port = strconv.Itoa(p)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port %q", port)
	}
	u.Host = net.JoinHostPort(hostname, port)
	if u.Path == "/" {
		u.Path = ""
	}
	return u.String(), nil
}

// RedactHost removes URL credentials from an engine address:
// tcp://user:pass@host:2376 becomes tcp://host:2376. Socket and pipe paths
// carry no credentials and are returned as they are. Everything up to the
// last "@" goes, so a password holding an unescaped "/" or "@" cannot leak.
func RedactHost(host string) string {
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok {
		scheme, rest = "", host
	}
	switch strings.ToLower(scheme) {
	case "unix", "npipe":
		return host
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	if !ok {
		return rest
	}
	return scheme + "://" + rest
}
