package cli

import (
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// WaitSocket is the abstract Unix socket (Linux) on which the waiting
// main process of a Kubernetes probe pod hears of the probe servers the
// agent execs beside it. Abstract sockets belong to a network namespace,
// here the pod's own: no file on the read-only root, and no port on the
// node.
var WaitSocket = "@dockprobe-probe-wait"

// waitMode is the probe pod's main process (--wait): it prints nothing,
// reads no host file, and returns nil at the deadline, on SIGTERM (ctx),
// on stdin EOF (someone attached and hung up), or once every exec'd server
// that announced itself (--notify-wait) has ended: so a killed agent's pod
// finishes within seconds rather than at activeDeadlineSeconds.
func waitMode(ctx context.Context, deadline time.Duration, stdin io.Reader, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	if stdin != nil {
		go func() {
			io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	if l, err := listenWait(socket); err == nil {
		defer l.Close()
		go serveWait(ctx, l, cancel)
	}
	<-ctx.Done()
	return nil
}

// lastServerGrace is how long the wait stays after the last announced
// server has gone, for one that connected meanwhile and is not accepted
// yet.
var lastServerGrace = time.Second

// serveWait counts the announced servers and calls done when the last
// one has gone (after at least one came) and none came within
// lastServerGrace.
func serveWait(ctx context.Context, l net.Listener, done func()) {
	var mu sync.Mutex
	n := 0
	var timer *time.Timer
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		n++
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		go func() {
			defer c.Close()
			io.Copy(io.Discard, c) // ends when the server's process exits
			mu.Lock()
			n--
			if n == 0 {
				timer = time.AfterFunc(lastServerGrace, func() {
					mu.Lock()
					last := n == 0
					mu.Unlock()
					if last {
						done()
					}
				})
			}
			mu.Unlock()
		}()
	}
}

// notifyWait announces this server to the pod's waiting main process and
// keeps the connection for the life of the process (its exit closes it).
// Failing is harmless: the pod then ends at its deadline.
func notifyWait(socket string) (io.Closer, error) {
	return dialWait(socket)
}
