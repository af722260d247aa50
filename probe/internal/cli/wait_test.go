package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitResult runs waitMode in the background.
func startWait(ctx context.Context, deadline time.Duration, stdin io.Reader, socket string) <-chan error {
	return startWaitClaim(ctx, deadline, 0, stdin, socket)
}

func startWaitClaim(ctx context.Context, deadline, claim time.Duration, stdin io.Reader, socket string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- waitMode(ctx, deadline, claim, stdin, socket) }()
	return done
}

func ended(t *testing.T, done <-chan error, why string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v, want nil (a wait's end is no failure)", why, err)
		}
	case <-time.After(time.Minute): // a guard against a hang, not a measurement
		t.Fatalf("the wait did not end on %s", why)
	}
}

func stillWaiting(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("the wait ended early: %v", err)
	default:
	}
}

func testSocket(t *testing.T) string {
	return fmt.Sprintf("@dockprobe-test-wait-%d-%s", os.Getpid(), t.Name())
}

func TestWaitEndsOnStdinEOF(t *testing.T) {
	r, w := io.Pipe()
	done := startWait(t.Context(), time.Hour, r, testSocket(t))
	stillWaiting(t, done)
	w.Close()
	ended(t, done, "stdin EOF")
}

func TestWaitEndsOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r, w := io.Pipe()
	defer w.Close()
	done := startWait(ctx, time.Hour, r, testSocket(t))
	cancel() // main turns SIGTERM into a cancelled context
	ended(t, done, "SIGTERM")
}

func TestWaitEndsAtDeadline(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	ended(t, startWait(t.Context(), 50*time.Millisecond, r, testSocket(t)), "the deadline")
}

// The exec'd servers announce themselves; the wait ends when the last
// one has gone, not before.
func TestWaitEndsWithTheLastServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract sockets are Linux-only; the probe runs on Linux")
	}
	old := lastServerGrace
	lastServerGrace = 300 * time.Millisecond
	defer func() { lastServerGrace = old }()
	sock := testSocket(t)
	r, w := io.Pipe()
	defer w.Close()
	done := startWait(t.Context(), time.Hour, r, sock)
	var a, b io.Closer
	var err error
	for i := 0; i < 100; i++ { // the listener comes up in the background
		if a, err = notifyWait(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if b, err = notifyWait(sock); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// b still serves: wait past the grace after a's end, then check.
	time.Sleep(4 * lastServerGrace)
	stillWaiting(t, done)
	b.Close()
	ended(t, done, "the last server's end")
}

// A pod nobody execs into (its agent died after creating it) ends at
// --claim-within, long before a watch's deadline of hours; one that was
// claimed in time waits on for its server.
func TestWaitEndsWhenUnclaimed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract sockets are Linux-only; the probe runs on Linux")
	}
	r, w := io.Pipe()
	defer w.Close()
	ended(t, startWaitClaim(t.Context(), time.Hour, 100*time.Millisecond, r, testSocket(t)), "no claim within --claim-within")
	r2, w2 := io.Pipe()
	defer w2.Close()
	sock := testSocket(t) + "-claimed"
	done := startWaitClaim(t.Context(), time.Hour, 300*time.Millisecond, r2, sock)
	var c io.Closer
	var err error
	for i := 0; i < 25; i++ { // the listener comes up in the background
		if c, err = notifyWait(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(time.Second)
	stillWaiting(t, done)
}

// The waiting mode prints nothing, on stdout or stderr.
func TestWaitPrintsNothing(t *testing.T) {
	var out, errw strings.Builder
	r, w := io.Pipe()
	w.Close()
	if err := Run(t.Context(), []string{"--wait", "--deadline=1m"}, r, nopCloser{&out}, &errw); err != nil {
		t.Fatal(err)
	}
	if out.Len()+errw.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out.String(), errw.String())
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
