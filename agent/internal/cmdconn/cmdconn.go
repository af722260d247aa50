// Package cmdconn turns a command's stdin and stdout into a net.Conn, as
// docker/cli's commandconn does for ssh contexts: writes go to the
// command's stdin, reads come from its stdout, and its stderr goes to a
// writer of the caller's choice. Closing the connection ends the command:
// stdin is closed first (a well-behaved peer exits on EOF), then the
// process is sent SIGTERM and finally SIGKILL.
//
// It knows nothing of containers or gRPC; the nerdctl package uses it to
// reach a probe through `nerdctl run -i`.
package cmdconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrExited is returned by Read and Write once the command has ended.
var ErrExited = errors.New("the command exited")

// Grace is how long Close waits after closing stdin before it signals the
// process, and again between SIGTERM and SIGKILL.
var Grace = 5 * time.Second

// Conn is a running command's stdio as a net.Conn.
type Conn struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end of the command's stdin
	stdout *os.File // our end of the command's stdout

	done    chan struct{} // closed when the process has been waited for
	waitErr error

	closeOnce sync.Once
	closeErr  error
	stdinOnce sync.Once
}

// Start starts name with args and returns its stdio as a connection.
// stderr receives the command's standard error (nil discards it). ctx
// bounds only the start; use Close to end the command.
func Start(ctx context.Context, stderr io.Writer, name string, args ...string) (*Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	setProcAttr(cmd)
	if stderr == nil {
		stderr = io.Discard
	}
	cmd.Stderr = stderr
	// Our own pipes rather than StdinPipe/StdoutPipe: both ends stay
	// *os.File, which supports deadlines, and Wait does not close them
	// under a reader.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe for %s: %w", name, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("stdout pipe for %s: %w", name, err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	// The child has its copies; ours of its ends must go, or stdout never
	// reaches EOF.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Conn{cmd: cmd, stdin: inW, stdout: outR, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Done is closed when the command has exited.
func (c *Conn) Done() <-chan struct{} { return c.done }

// ExitErr is the command's exit status once Done is closed (nil for a zero
// exit status).
func (c *Conn) ExitErr() error {
	select {
	case <-c.done:
		return c.waitErr
	default:
		return nil
	}
}

// Pid is the command's process id.
func (c *Conn) Pid() int { return c.cmd.Process.Pid }

// Read reads the command's stdout.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return n, err
}

// Write writes to the command's stdin.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if errors.Is(err, os.ErrClosed) {
		return n, net.ErrClosed
	}
	if err != nil {
		select {
		case <-c.done:
			return n, fmt.Errorf("%w: %w", ErrExited, c.exitCause())
		default:
		}
	}
	return n, err
}

func (c *Conn) exitCause() error {
	if c.waitErr != nil {
		return c.waitErr
	}
	return errors.New("exit status 0")
}

// CloseWrite closes the command's stdin: the peer sees EOF.
func (c *Conn) CloseWrite() error {
	var err error
	c.stdinOnce.Do(func() { err = c.stdin.Close() })
	return err
}

// Close ends the command: stdin EOF, then SIGTERM after Grace, then SIGKILL
// after another Grace. It returns once the process has exited; the error
// says when it had to be signalled.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.terminate()
		c.stdout.Close()
	})
	return c.closeErr
}

func (c *Conn) terminate() error {
	c.CloseWrite()
	select {
	case <-c.done:
		return nil
	case <-time.After(Grace):
	}
	terminate(c.cmd.Process)
	select {
	case <-c.done:
		return fmt.Errorf("%s ignored stdin EOF for %s and was terminated", c.cmd.Path, Grace)
	case <-time.After(Grace):
	}
	c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("%s ignored SIGTERM for %s and was killed", c.cmd.Path, Grace)
}

// LocalAddr and RemoteAddr name the command; a pipe has no address.
func (c *Conn) LocalAddr() net.Addr  { return addr("cmdconn") }
func (c *Conn) RemoteAddr() net.Addr { return addr(c.cmd.Path) }

// SetDeadline and friends set deadlines on the pipes where the platform
// supports it (Unix); elsewhere they are a no-op and gRPC's keepalive
// notices a stalled peer.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

func (c *Conn) SetReadDeadline(t time.Time) error { return noDeadlineOK(c.stdout.SetReadDeadline(t)) }

func (c *Conn) SetWriteDeadline(t time.Time) error { return noDeadlineOK(c.stdin.SetWriteDeadline(t)) }

func noDeadlineOK(err error) error {
	if errors.Is(err, os.ErrNoDeadline) {
		return nil
	}
	return err
}

type addr string

func (a addr) Network() string { return "cmd" }
func (a addr) String() string  { return string(a) }

var _ net.Conn = (*Conn)(nil)
