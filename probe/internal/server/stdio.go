package server

import (
	"io"
	"net"
	"sync"
	"time"
)

// stdioConn is the one connection the probe ever serves: its stdin and
// stdout, which the engine wires to the agent's attach stream.
type stdioConn struct {
	r io.ReadCloser
	w io.WriteCloser

	once   sync.Once
	closed chan struct{}
}

func newStdioConn(r io.ReadCloser, w io.WriteCloser) *stdioConn {
	return &stdioConn{r: r, w: w, closed: make(chan struct{})}
}

func (c *stdioConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *stdioConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close releases both ends; gRPC calls it when the agent hangs up, which is
// how the probe learns it is time to exit.
func (c *stdioConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.r.Close()
		c.w.Close()
	})
	return nil
}

func (c *stdioConn) LocalAddr() net.Addr  { return stdioAddr{} }
func (c *stdioConn) RemoteAddr() net.Addr { return stdioAddr{} }

// Deadlines are not supported on the inherited pipes; gRPC works without
// them and the probe's own hard deadline bounds its lifetime instead.
func (c *stdioConn) SetDeadline(time.Time) error      { return nil }
func (c *stdioConn) SetReadDeadline(time.Time) error  { return nil }
func (c *stdioConn) SetWriteDeadline(time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "stdio" }

// oneConnListener hands out a single connection, then blocks until closed.
type oneConnListener struct {
	conn chan net.Conn
	done chan struct{}
	once sync.Once
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{conn: make(chan net.Conn, 1), done: make(chan struct{})}
	l.conn <- c
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conn:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return stdioAddr{} }
