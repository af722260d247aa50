//go:build unix

package nerdctl

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// watchdogScript waits for EOF on stdin (the agent closed its end, or
// died), then for the `nerdctl run` process to end, then force-removes the
// container by name. A nerdctl that loses the agent's pipes dies of
// SIGPIPE on its next write (Go programs do, whatever the inherited
// disposition) before its own --rm cleanup: this is what removes the
// container then.
const watchdogScript = `read -r _ || :
pid=$1; shift
while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
exec "$@" >/dev/null 2>&1`

// watchdog is a detached shell that outlives the agent.
type watchdog struct {
	cmd *exec.Cmd
	w   *os.File
}

// startWatchdog starts the watchdog for the container name created by the
// nerdctl process runPID. It returns nil when no shell is available.
func startWatchdog(c *Client, name string, runPID int) *watchdog {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	defer r.Close()
	args := append([]string{"-c", watchdogScript, "dockprobe-watchdog", strconv.Itoa(runPID), c.Path}, c.Args("rm", "-f", name)...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = r
	// Its own session: a Ctrl-C or a closed terminal that ends the agent
	// must not end the watchdog too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil
	}
	return &watchdog{cmd: cmd, w: w}
}

// dismiss ends the watchdog without letting it act: the run ended cleanly.
func (d *watchdog) dismiss() {
	if d == nil {
		return
	}
	d.cmd.Process.Kill()
	d.w.Close()
	d.cmd.Wait()
}

// release lets the watchdog act now (remove the container once nerdctl has
// ended) and does not wait for it.
func (d *watchdog) release() {
	if d == nil {
		return
	}
	d.w.Close()
	go d.cmd.Wait()
}
