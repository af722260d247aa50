package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
)

// ErrEngineUnreachable matches every error that means "no engine answered at
// this address": nothing listening, socket or pipe missing, access denied,
// timeout, name resolution or TLS handshake failure.
var ErrEngineUnreachable = errors.New("engine unreachable")

// UnreachableError is the one-line explanation of an unreachable engine.
type UnreachableError struct {
	// Host is the redacted endpoint.
	Host string
	// Reason says what went wrong and, when known, what to do.
	Reason string
	// Err is the underlying dial or client error.
	Err error
}

func (e *UnreachableError) Error() string {
	return "cannot connect to the Docker engine at " + e.Host + ": is it running? (" + e.Reason + ")"
}

// Unwrap makes errors.Is(err, ErrEngineUnreachable) true and keeps the cause.
func (e *UnreachableError) Unwrap() []error { return []error{ErrEngineUnreachable, e.Err} }

// Unreachable explains a failure to connect to host (the raw endpoint URL;
// only its redacted form is kept). cause is preferably the raw dial error,
// whose errno tells the cases apart.
func Unreachable(host string, cause error) *UnreachableError {
	return &UnreachableError{Host: endpoint.RedactHost(host), Reason: reason(host, cause), Err: cause}
}

// diagnose runs after the client reported a connection failure. The client
// flattens most dial errors into "Cannot connect ... Is the docker daemon
// running?", so dial once more ourselves to learn the errno.
func diagnose(ctx context.Context, c *client.Client, ep endpoint.Endpoint, clientErr error) error {
	if errors.Is(clientErr, context.DeadlineExceeded) || ctx.Err() != nil {
		return Unreachable(ep.Host, clientErr)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := c.Dialer()(dctx)
	if err != nil {
		return Unreachable(ep.Host, err)
	}
	_ = conn.Close()
	return Unreachable(ep.Host, clientErr)
}

func reason(host string, err error) string {
	scheme, addr, _ := strings.Cut(host, "://")
	msg := ""
	if err != nil {
		msg = strings.ToLower(err.Error())
	}
	var (
		dnsErr    *net.DNSError
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		netErr    net.Error
	)
	switch {
	case err == nil:
		return "no answer"
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(msg, "permission denied") || strings.Contains(msg, "access is denied"):
		if scheme == "npipe" {
			return "access denied: run the shell as Administrator or add yourself to the docker-users group"
		}
		return "permission denied: add yourself to the docker group or run as root"
	case errors.Is(err, fs.ErrNotExist) || strings.Contains(msg, "no such file") ||
		strings.Contains(msg, "cannot find the file"):
		switch scheme {
		case "npipe":
			return "no pipe " + addr + ": start Docker Desktop, or pick another engine with --context"
		case "unix":
			return "no socket " + addr + ": start Docker Desktop or dockerd, or pick another engine with --context"
		}
		return "not found"
	case errors.Is(err, errConnRefused) || strings.Contains(msg, "connection refused"):
		if scheme == "unix" {
			return "connection refused: the socket exists but nothing serves it"
		}
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "cannot resolve " + dnsErr.Name
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return "the server's TLS certificate is not trusted: check the CA (DOCKER_CERT_PATH or the context's TLS files)"
	case errors.As(err, &recordErr):
		return "the server does not speak TLS: check the port, or unset DOCKER_TLS_VERIFY"
	case errors.As(err, &alertErr), strings.Contains(msg, "bad certificate"), strings.Contains(msg, "handshake failure"):
		return "TLS handshake refused: the server probably requires a client certificate (check cert.pem and key.pem)"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return "timed out"
	case strings.Contains(msg, "malformed http response"), strings.Contains(msg, "http request to an https server"):
		return "the server speaks TLS: set DOCKER_TLS_VERIFY=1 or use a context with TLS"
	}
	text := err.Error()
	if safe := endpoint.RedactHost(host); host != "" && safe != host {
		text = strings.ReplaceAll(text, host, safe)
	}
	return strings.Join(strings.Fields(text), " ")
}
