//go:build unix

package cmdconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func shortGrace(t *testing.T) {
	old := Grace
	Grace = 200 * time.Millisecond
	t.Cleanup(func() { Grace = old })
}

func start(t *testing.T, stderr io.Writer, name string, args ...string) *Conn {
	t.Helper()
	c, err := Start(context.Background(), stderr, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEcho pushes binary data (every byte value, gRPC frames are binary)
// through cat and reads it back.
func TestEcho(t *testing.T) {
	c := start(t, nil, "cat")
	want := make([]byte, 1<<20)
	rand.Read(want)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		errc <- errors.Join(err, c.CloseWrite())
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes back, want %d identical ones", len(got), len(want))
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close after a clean exit: %v", err)
	}
}

func TestStderrSeparate(t *testing.T) {
	var stderr bytes.Buffer
	c := start(t, &stderr, "sh", "-c", "echo out; echo err >&2")
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if string(got) != "out\n" {
		t.Errorf("stdout %q, want %q", got, "out\n")
	}
	if stderr.String() != "err\n" {
		t.Errorf("stderr %q, want %q", stderr.String(), "err\n")
	}
}

// TestCloseEndsOnEOF: a peer that exits on stdin EOF ends without signals.
func TestCloseEndsOnEOF(t *testing.T) {
	c := start(t, nil, "cat")
	t0 := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("close took %s", d)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("process still running after Close")
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v, want net.ErrClosed", err)
	}
}

// TestCloseEscalates: a peer that ignores EOF and SIGTERM is killed.
func TestCloseEscalates(t *testing.T) {
	shortGrace(t)

	c := start(t, nil, "sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`)
	if _, err := io.ReadFull(c, make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	err := c.Close()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("close: %v, want an error saying it was killed", err)
	}
	var ee interface{ Sys() any }
	if !errors.As(c.ExitErr(), &ee) {
		t.Fatalf("exit error %v", c.ExitErr())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("exit status %v, want killed by SIGKILL", ee.Sys())
	}
}

func TestCloseTerminates(t *testing.T) {
	shortGrace(t)

	c := start(t, nil, "sleep", "60")
	err := c.Close()
	if err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Fatalf("close: %v, want an error saying it was terminated", err)
	}
}

func TestWriteAfterExit(t *testing.T) {
	c := start(t, nil, "true")
	<-c.Done()
	var err error
	for range 100 { // the pipe may take a write or two before EPIPE
		if _, err = c.Write([]byte("x")); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrExited) {
		t.Fatalf("write after exit: %v, want ErrExited", err)
	}
}

func TestReadDeadline(t *testing.T) {
	shortGrace(t)
	c := start(t, nil, "sleep", "60")
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
}

func TestStartMissing(t *testing.T) {
	_, err := Start(context.Background(), nil, "/nonexistent/dockprobe-cmd")
	if err == nil {
		t.Fatal("no error for a missing command")
	}
}
