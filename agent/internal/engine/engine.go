// Package engine owns the agent's conversation with the Docker Engine API:
// building a client for a resolved [endpoint.Endpoint] (host, TLS, API
// version negotiation), reading the engine's facts (version, info, networks)
// into the report's probev1.Engine, and turning "cannot connect" failures into
// one-line [ErrEngineUnreachable] errors that say what to do.
//
// It does not launch containers (see the launch package) and does not decide
// which engine to use (see the endpoint package).
package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/internal/version"
)

// ErrUnsupportedEngine is returned when the engine's API is older than the
// client library supports (API 1.40, Docker 19.03).
var ErrUnsupportedEngine = errors.New("unsupported engine")

// ErrTLSConfig is returned when an endpoint's TLS files cannot be used.
var ErrTLSConfig = errors.New("invalid TLS configuration")

// New builds a client for ep and pings the engine, which negotiates the API
// version (unless ep.APIVersion pins one) and proves the engine answers. After
// New, c.ClientVersion() is the API version every later call uses.
//
// An engine that cannot be reached gives an error matching
// [ErrEngineUnreachable]; see [UnreachableError].
func New(ctx context.Context, ep endpoint.Endpoint) (*client.Client, error) {
	if ep.Host == "" {
		ep.Host = endpoint.DefaultHost
	}
	host := ep.Redacted()
	opts := []client.Opt{client.WithUserAgent("dockprobe-agent/" + version.Version)}
	if ep.TLS != nil {
		cfg, err := TLSConfig(*ep.TLS)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", host, err)
		}
		// The client's defaults (idle limits) with our TLS config; WithHost
		// then sets the dialer on this transport.
		hc := &http.Client{
			Transport: &http.Transport{
				TLSClientConfig: cfg,
				MaxIdleConns:    6,
				IdleConnTimeout: 30 * time.Second,
			},
			CheckRedirect: client.CheckRedirect,
		}
		opts = append(opts, client.WithHTTPClient(hc))
	}
	opts = append(opts, client.WithHost(ep.Host))
	if ep.APIVersion != "" {
		opts = append(opts, client.WithAPIVersion(ep.APIVersion))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, redact(fmt.Errorf("configure the Docker client for %s: %w", host, err), ep.Host)
	}
	ping, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err == nil {
		return c, nil
	}
	defer c.Close()
	if ping.APIVersion != "" && versions.LessThan(ping.APIVersion, client.MinAPIVersion) {
		return nil, fmt.Errorf("%w: the Docker engine at %s speaks API %s; dockprobe needs API %s or newer (Docker 19.03+): upgrade the engine",
			ErrUnsupportedEngine, host, ping.APIVersion, client.MinAPIVersion)
	}
	if client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded) {
		return nil, diagnose(ctx, c, ep, err)
	}
	if strings.Contains(strings.ToLower(err.Error()), "http request to an https server") {
		// A Go server's 400 answer to plain HTTP: no engine API spoken here.
		return nil, Unreachable(ep.Host, err)
	}
	return nil, redact(fmt.Errorf("ping the Docker engine at %s: %w", host, err), ep.Host)
}

// TLSConfig builds the client TLS configuration the docker CLI builds for
// the same files: the CA (when given) as the only root, the client key pair
// (when both files are given), TLS 1.2 or newer.
func TLSConfig(f endpoint.TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.SkipVerify} //nolint:gosec // the user asked for it (DOCKER_TLS / SkipTLSVerify)
	if f.CAFile != "" && !f.SkipVerify {
		pemData, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read CA certificate: %w", ErrTLSConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrTLSConfig, f.CAFile)
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" && f.KeyFile != "" {
		certPEM, err := os.ReadFile(f.CertFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read client certificate: %w", ErrTLSConfig, err)
		}
		keyPEM, err := os.ReadFile(f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: read client key: %w", ErrTLSConfig, err)
		}
		if block, _ := pem.Decode(keyPEM); block != nil && strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("%w: %s is encrypted; the docker CLI dropped support for encrypted keys too: decrypt it with openssl", ErrTLSConfig, f.KeyFile)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: load client key pair %s, %s: %w", ErrTLSConfig, f.CertFile, f.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// redactedError replaces a raw host (which may carry credentials) in an
// error's text with its redacted form, keeping the chain for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, rawHost string) error {
	if err == nil {
		return nil
	}
	safe := endpoint.RedactHost(rawHost)
	if rawHost == "" || safe == rawHost || !strings.Contains(err.Error(), rawHost) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), rawHost, safe), err: err}
}
