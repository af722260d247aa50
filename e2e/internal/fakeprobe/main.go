// Command fakeprobe stands in for the probe in the reliability tests. Its
// behaviour comes from FAKEPROBE_MODE (the fault proxy sets it when it
// rewrites the agent's create request):
//
//	echo (default)  copy stdin to stdout byte for byte (transport test)
//	crash           answer the handshake, then die inside Collect
//	hang            answer the handshake, then never answer Collect
//	oldproto        answer the handshake with another protocol version
//
// It is built only by the e2e suite, into a FROM scratch image.
package main

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func main() {
	mode := os.Getenv("FAKEPROBE_MODE")
	if mode == "" || mode == "echo" {
		io.Copy(os.Stdout, os.Stdin)
		return
	}
	// The real probe's backstop, so that a test never leaves this behind.
	time.AfterFunc(2*time.Minute, func() { os.Exit(3) })
	srv := grpc.NewServer()
	probev1.RegisterProbeServer(srv, &fake{mode: mode})
	srv.Serve(&oneConn{c: stdio{}, ch: make(chan struct{})})
}

type fake struct {
	probev1.UnimplementedProbeServer
	mode string
}

func (f *fake) Handshake(context.Context, *probev1.HandshakeRequest) (*probev1.HandshakeResponse, error) {
	v := uint32(probev1.ProtocolVersion)
	if f.mode == "oldproto" {
		v += 100
	}
	return &probev1.HandshakeResponse{ProbeVersion: "fake-" + f.mode, ProtocolVersion: v, Os: "linux", Pid: int32(os.Getpid())}, nil
}

func (f *fake) Collect(ctx context.Context, _ *probev1.CollectRequest) (*probev1.CollectResponse, error) {
	switch f.mode {
	case "crash":
		os.Stderr.WriteString("fakeprobe: crashing mid-collection\n")
		os.Exit(2)
	case "hang":
		<-ctx.Done()
		select {}
	}
	return &probev1.CollectResponse{Report: &probev1.Report{}}, nil
}

type stdio struct{}

func (stdio) Read(p []byte) (int, error)       { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error)      { return os.Stdout.Write(p) }
func (stdio) Close() error                     { os.Exit(0); return nil }
func (stdio) LocalAddr() net.Addr              { return addr{} }
func (stdio) RemoteAddr() net.Addr             { return addr{} }
func (stdio) SetDeadline(time.Time) error      { return nil }
func (stdio) SetReadDeadline(time.Time) error  { return nil }
func (stdio) SetWriteDeadline(time.Time) error { return nil }

type addr struct{}

func (addr) Network() string { return "stdio" }
func (addr) String() string  { return "stdio" }

type oneConn struct {
	c    net.Conn
	once sync.Once
	ch   chan struct{}
}

func (l *oneConn) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.c })
	if c != nil {
		return c, nil
	}
	<-l.ch
	return nil, net.ErrClosed
}
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return addr{} }
