package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// Stream is the raw, hijacked attach connection: reads return the
// multiplexed frames, writes go to the container's stdin unframed.
type Stream interface {
	io.Reader
	io.Writer
	// Close ends the whole stream.
	Close() error
	// CloseWrite signals EOF on the container's stdin.
	CloseWrite() error
}

// Conn is a net.Conn whose reads are the container's stdout and whose
// writes are its stdin. Its stderr goes to the writer given to NewConn.
type Conn struct {
	Carrier // "attach": its addresses and (ignored) deadlines

	stream Stream
	pr     *io.PipeReader

	once sync.Once
	done chan struct{}
	err  error // why demultiplexing stopped; read after done is closed
}

// NewConn starts demultiplexing stream; stderr receives the container's
// stderr (its logs).
func NewConn(stream Stream, stderr io.Writer) *Conn {
	pr, pw := io.Pipe()
	c := &Conn{Carrier: "attach", stream: stream, pr: pr, done: make(chan struct{})}
	go func() {
		err := Demux(pw, stderr, stream)
		if err == nil {
			err = io.EOF
		}
		c.err = err
		pw.CloseWithError(err)
		close(c.done)
	}()
	return c
}

func (c *Conn) Read(p []byte) (int, error)  { return c.pr.Read(p) }
func (c *Conn) Write(p []byte) (int, error) { return c.stream.Write(p) }

// Close hangs up: stdin EOF first (the probe exits on it), then the stream.
func (c *Conn) Close() error {
	c.once.Do(func() {
		c.stream.CloseWrite()
		c.stream.Close()
		c.pr.Close()
	})
	return nil
}

// CloseWrite sends EOF to the container's stdin.
func (c *Conn) CloseWrite() error { return c.stream.CloseWrite() }

// Done is closed when the container's output stream has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the output stream ended (io.EOF for a clean end); valid after
// Done is closed.
func (c *Conn) Err() error { <-c.done; return c.err }

// ErrAlreadyDialed is returned when gRPC tries to reconnect: an attach
// stream cannot be reopened, so a broken transport is final.
var ErrAlreadyDialed = errors.New("the probe's attach stream was already used; it cannot be dialed again")

// SingleUseDialer returns a gRPC context dialer that yields conn once.
func SingleUseDialer(conn net.Conn) func(context.Context, string) (net.Conn, error) {
	var mu sync.Mutex
	used := false
	return func(context.Context, string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		if used {
			return nil, ErrAlreadyDialed
		}
		used = true
		return conn, nil
	}
}
