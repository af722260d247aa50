//go:build !unix

package cmdconn

import (
	"os"
	"os/exec"
)

func setProcAttr(*exec.Cmd) {}

// terminate kills: Windows has no SIGTERM to send to a console program.
func terminate(p *os.Process) { p.Kill() }
