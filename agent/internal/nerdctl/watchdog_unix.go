//go:build unix

package nerdctl

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// watchdogScript runs before `nerdctl run` starts, so that no moment of
// the agent's life is unguarded. It reads nerdctl's pid from the agent,
// then waits for EOF (the agent closed its end, or died). nerdctl then
// usually ends by itself within a moment: the probe sees EOF on its stdin
// and exits, and nerdctl's --rm removes the container; or nerdctl dies of
// SIGPIPE on its next write to the agent's closed pipe. It cannot be
// trusted to: a stdin EOF that reaches nerdctl before the task is started
// may never reach the probe, which then runs to its deadline with nerdctl
// waiting on it. So after a second the watchdog ends nerdctl itself, and
// then force-removes the container by name, repeatedly for a while (the
// name is unique): an agent that died before it could say the pid leaves
// nerdctl creating the container, and containerd may finish a create
// whose client has just gone.
const watchdogScript = `read -r pid || :
read -r _ || :
if [ -n "$pid" ]; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 5 ]; do sleep 0.2; i=$((i + 1)); done
	kill -TERM "$pid" 2>/dev/null && sleep 0.5
	kill -KILL "$pid" 2>/dev/null || :
fi
i=0
while [ "$i" -lt 16 ]; do "$@" >/dev/null 2>&1; sleep 0.5; i=$((i + 1)); done`

// watchdog is a detached shell that outlives the agent.
type watchdog struct {
	cmd *exec.Cmd
	w   *os.File
}

// startWatchdog starts the watchdog for the container name, before the
// `nerdctl run` that creates it. It returns nil when no shell is available.
func startWatchdog(c *Client, name string) *watchdog {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	defer r.Close()
	args := append([]string{"-c", watchdogScript, "dockprobe-watchdog", c.Path}, c.Args("rm", "-f", name)...)
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

// watch tells the watchdog the pid of the `nerdctl run` it guards.
func (d *watchdog) watch(runPID int) {
	if d == nil {
		return
	}
	fmt.Fprintf(d.w, "%d\n", runPID)
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
