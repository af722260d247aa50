//go:build unix

package cmdconn

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcAttr puts the command in its own process group, so that a Ctrl-C
// at the terminal reaches only the agent, which then closes the connection
// in order instead of the command dying mid-stream.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminate(p *os.Process) { p.Signal(syscall.SIGTERM) }
