package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
)

func TestNewNegotiatesDown(t *testing.T) {
	for _, api := range []string{"1.41", "1.44", "1.51"} {
		t.Run(api, func(t *testing.T) {
			c, _ := startFake(t, &fakeEngine{apiVersion: api})
			if got := c.ClientVersion(); got != api {
				t.Errorf("ClientVersion() = %q, want %q", got, api)
			}
		})
	}
}

func TestNewPinnedAPIVersion(t *testing.T) {
	f := &fakeEngine{apiVersion: "1.41", version: desktopVersion}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(context.Background(), endpoint.Endpoint{Host: "tcp://" + srv.Listener.Addr().String(), APIVersion: "1.41"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ClientVersion(); got != "1.41" {
		t.Errorf("ClientVersion() = %q, want the pinned 1.41", got)
	}
}

func TestNewTooOldEngine(t *testing.T) {
	srv := httptest.NewServer(&fakeEngine{apiVersion: "1.39"})
	defer srv.Close()
	_, err := New(context.Background(), endpoint.Endpoint{Host: "tcp://" + srv.Listener.Addr().String()})
	if !errors.Is(err, ErrUnsupportedEngine) {
		t.Fatalf("New() error = %v, want ErrUnsupportedEngine", err)
	}
	if !strings.Contains(err.Error(), "speaks API 1.39") {
		t.Errorf("error text = %q", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	dir := t.TempDir()

	// A socket file nobody listens on any more.
	stale := filepath.Join(dir, "stale.sock")
	if runtime.GOOS != "windows" {
		l, err := net.Listen("unix", stale)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		_ = l.Close()
	}

	// A TCP port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().String()
	_ = l.Close()

	tests := []struct {
		name       string
		host       string
		unixOnly   bool
		wantReason string
	}{
		{name: "missing socket", host: "unix://" + filepath.Join(dir, "nope.sock"), unixOnly: true, wantReason: "(no socket " + filepath.Join(dir, "nope.sock") + ": start Docker Desktop or dockerd"},
		{name: "stale socket", host: "unix://" + stale, unixOnly: true, wantReason: "(connection refused: the socket exists but nothing serves it)"},
		{name: "closed port with credentials", host: "tcp://me:hunter2@" + closedPort, wantReason: "(connection refused)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unixOnly && runtime.GOOS == "windows" {
				t.Skip("unix sockets")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := New(ctx, endpoint.Endpoint{Host: tt.host})
			if !errors.Is(err, ErrEngineUnreachable) {
				t.Fatalf("New() error = %v, want ErrEngineUnreachable", err)
			}
			msg := err.Error()
			wantPrefix := "cannot connect to the Docker engine at " + endpoint.RedactHost(tt.host) + ": is it running? "
			if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tt.wantReason) {
				t.Errorf("error = %q\nwant prefix %q and %q", msg, wantPrefix, tt.wantReason)
			}
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, "\n") {
				t.Errorf("error leaks credentials or spans lines: %q", msg)
			}
		})
	}
}

func TestNewPermissionDenied(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	if os.Geteuid() == 0 {
		t.Skip("root ignores socket permissions; covered by TestReason")
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(sock, 0); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), endpoint.Endpoint{Host: "unix://" + sock})
	want := "(permission denied: add yourself to the docker group or run as root)"
	if !errors.Is(err, ErrEngineUnreachable) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("New() error = %v, want ErrEngineUnreachable ending %q", err, want)
	}
}

func TestReason(t *testing.T) {
	opErr := func(netw string, errno error) error {
		return &net.OpError{Op: "dial", Net: netw, Err: &os.SyscallError{Syscall: "connect", Err: errno}}
	}
	tests := []struct {
		host string
		err  error
		want string
	}{
		{"unix:///var/run/docker.sock", opErr("unix", syscall.EACCES), "permission denied: add yourself to the docker group or run as root"},
		{"npipe:////./pipe/docker_engine", &os.PathError{Op: "open", Path: `\\.\pipe\docker_engine`, Err: os.ErrPermission}, "access denied: run the shell as Administrator or add yourself to the docker-users group"},
		{"unix:///var/run/docker.sock", opErr("unix", syscall.ENOENT), "no socket /var/run/docker.sock: start Docker Desktop or dockerd, or pick another engine with --context"},
		{"npipe:////./pipe/dockerDesktopLinuxEngine", errors.New("open //./pipe/dockerDesktopLinuxEngine: The system cannot find the file specified."), "no pipe //./pipe/dockerDesktopLinuxEngine: start Docker Desktop, or pick another engine with --context"},
		{"unix:///var/run/docker.sock", opErr("unix", syscall.ECONNREFUSED), "connection refused: the socket exists but nothing serves it"},
		{"tcp://10.0.0.1:2375", opErr("tcp", errConnRefused), "connection refused"},
		{"tcp://nohost.invalid:2375", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nohost.invalid", IsNotFound: true}}, "cannot resolve nohost.invalid"},
		{"tcp://10.0.0.1:2376", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "the server's TLS certificate is not trusted: check the CA (DOCKER_CERT_PATH or the context's TLS files)"},
		{"tcp://10.0.0.1:2375", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "the server does not speak TLS: check the port, or unset DOCKER_TLS_VERIFY"},
		{"tcp://10.0.0.1:2376", fmt.Errorf("remote error: %w", tls.AlertError(40)), "TLS handshake refused: the server probably requires a client certificate (check cert.pem and key.pem)"},
		{"tcp://10.0.0.1:2375", context.DeadlineExceeded, "timed out"},
		{"tcp://u:pw@10.0.0.1:2375", errors.New("weird failure talking to tcp://u:pw@10.0.0.1:2375"), "weird failure talking to tcp://10.0.0.1:2375"},
	}
	for _, tt := range tests {
		got := Unreachable(tt.host, tt.err)
		if got.Reason != tt.want {
			t.Errorf("Unreachable(%q, %v).Reason = %q, want %q", tt.host, tt.err, got.Reason, tt.want)
		}
		if !errors.Is(got, ErrEngineUnreachable) || !errors.Is(got, tt.err) {
			t.Errorf("Unreachable(%q, %v) does not wrap the sentinel and the cause", tt.host, tt.err)
		}
	}
}

func TestNewTLS(t *testing.T) {
	f := &fakeEngine{apiVersion: "1.41"}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writePEM(t, ca, "CERTIFICATE", srv.Certificate().Raw)
	host := "tcp://" + srv.Listener.Addr().String()

	tests := []struct {
		name     string
		tls      *endpoint.TLSFiles
		wantErr  error
		wantText string
	}{
		{name: "verified with the CA", tls: &endpoint.TLSFiles{CAFile: ca}},
		{name: "skip verify", tls: &endpoint.TLSFiles{SkipVerify: true}},
		{name: "system roots do not know the server", tls: &endpoint.TLSFiles{}, wantErr: ErrEngineUnreachable},
		{name: "plain http to a TLS server", tls: nil, wantErr: ErrEngineUnreachable, wantText: "the server speaks TLS: set DOCKER_TLS_VERIFY=1 or use a context with TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(context.Background(), endpoint.Endpoint{Host: host, TLS: tt.tls})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				c.Close()
			} else if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to say %q", err, tt.wantText)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, keyFile, ca := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	writePEM(t, cert, "CERTIFICATE", der)
	writePEM(t, ca, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	encrypted := filepath.Join(dir, "enc.pem")
	if err := os.WriteFile(encrypted, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		files     endpoint.TLSFiles
		wantErr   bool
		wantRoots bool
		wantCerts int
		wantSkip  bool
	}{
		{name: "full mutual TLS", files: endpoint.TLSFiles{CAFile: ca, CertFile: cert, KeyFile: keyFile}, wantRoots: true, wantCerts: 1},
		{name: "CA only", files: endpoint.TLSFiles{CAFile: ca}, wantRoots: true},
		{name: "skip verify ignores the CA", files: endpoint.TLSFiles{CAFile: filepath.Join(dir, "absent.pem"), SkipVerify: true}, wantSkip: true},
		{name: "missing CA", files: endpoint.TLSFiles{CAFile: filepath.Join(dir, "absent.pem")}, wantErr: true},
		{name: "CA is not PEM", files: endpoint.TLSFiles{CAFile: notPEM}, wantErr: true},
		{name: "encrypted key", files: endpoint.TLSFiles{CertFile: cert, KeyFile: encrypted}, wantErr: true},
		{name: "key does not match", files: endpoint.TLSFiles{CertFile: cert, KeyFile: notPEM}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := TLSConfig(tt.files)
			if tt.wantErr {
				if !errors.Is(err, ErrTLSConfig) {
					t.Fatalf("TLSConfig() error = %v, want ErrTLSConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.RootCAs != nil) != tt.wantRoots || len(cfg.Certificates) != tt.wantCerts || cfg.InsecureSkipVerify != tt.wantSkip || cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("TLSConfig() = roots %v certs %d skip %v min %x", cfg.RootCAs != nil, len(cfg.Certificates), cfg.InsecureSkipVerify, cfg.MinVersion)
			}
		})
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
