package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

func netPipe() (net.Conn, net.Conn) { return net.Pipe() }

// fakeStream is an attach stream whose "container" echoes stdin back as
// stdout frames and writes one stderr frame first.
type fakeStream struct {
	r          *io.PipeReader // what the agent reads (frames)
	w          *io.PipeWriter // the container's side of the frames
	in         bytes.Buffer
	mu         sync.Mutex
	closeWrite int
}

func (f *fakeStream) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *fakeStream) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in.Write(p)
	return len(p), Mux(f.w, StreamStdout, p)
}
func (f *fakeStream) Close() error { f.w.Close(); return nil }
func (f *fakeStream) CloseWrite() error {
	f.mu.Lock()
	f.closeWrite++
	f.mu.Unlock()
	return nil
}

func TestConnCarriesStdoutAndSendsStdin(t *testing.T) {
	pr, pw := io.Pipe()
	fs := &fakeStream{r: pr, w: pw}
	var logs lockedBuffer
	c := NewConn(fs, &logs)
	if l, r := c.LocalAddr(), c.RemoteAddr(); l.String() != "attach" || r.Network() != "attach" {
		t.Errorf("addresses %s/%s, %s/%s; want attach", l.Network(), l, r.Network(), r)
	}
	if err := Mux(pw, StreamStderr, []byte("probe started\n")); err != nil {
		t.Fatal(err)
	}

	msg := []byte("ping \x10\x11\r\n")
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("read %q, want %q", got, msg)
	}
	c.Close()
	<-c.Done()
	if !errors.Is(c.Err(), io.EOF) {
		t.Errorf("Err() = %v, want io.EOF after a clean close", c.Err())
	}
	if fs.closeWrite != 1 {
		t.Errorf("CloseWrite called %d times, want 1", fs.closeWrite)
	}
	if logs.String() != "probe started\n" {
		t.Errorf("stderr = %q", logs.String())
	}
}

func TestConnReportsCorruptStream(t *testing.T) {
	pr, pw := io.Pipe()
	fs := &fakeStream{r: pr, w: pw}
	c := NewConn(fs, io.Discard)
	go func() {
		pw.Write(header(1, 100))
		pw.Write([]byte("short"))
		pw.Close()
	}()
	_, err := io.ReadAll(c)
	if !errors.Is(err, ErrTruncatedFrame) {
		t.Fatalf("ReadAll error = %v, want ErrTruncatedFrame", err)
	}
	if !errors.Is(c.Err(), ErrTruncatedFrame) {
		t.Fatalf("Err() = %v, want ErrTruncatedFrame", c.Err())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
