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
//
// claimWithin, when positive, also ends the wait when no server has
// announced itself that long after the start: an agent killed between
// the pod's creation and its exec never comes, and a long deadline (a
// watch's, hours) must not keep its pod running until then.
func waitMode(ctx context.Context, deadline, claimWithin time.Duration, stdin io.Reader, socket string) error {
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
		claimed := make(chan struct{})
		go serveWait(ctx, l, cancel, func() { close(claimed) })
		// Only with the listener up: without it no server can announce
		// itself, and the wait must not end under a live one.
		if claimWithin > 0 && claimWithin < deadline {
			t := time.AfterFunc(claimWithin, func() {
				select {
				case <-claimed:
				default:
					cancel()
				}
			})
			defer t.Stop()
		}
	}
	<-ctx.Done()
	return nil
}

// lastServerGrace is how long the wait stays after the last announced
// server has gone, for one that connected meanwhile and is not accepted
// yet.
var lastServerGrace = time.Second

// serveWait counts the announced servers, calls claim once when the
// first comes, and calls done when the last one has gone (after at least
// one came) and none came within lastServerGrace.
func serveWait(ctx context.Context, l net.Listener, done, claim func()) {
	var mu sync.Mutex
	n := 0
	var claimOnce sync.Once
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
		claimOnce.Do(claim)
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
