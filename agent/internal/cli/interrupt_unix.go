//go:build unix

package cli

import (
	"os"
	"syscall"
)

var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

func unixSignalName(s os.Signal) (string, bool) {
	if s == syscall.SIGHUP {
		return "SIGHUP", true
	}
	return "", false
}
