//go:build !unix

package cli

import (
	"os"
	"syscall"
)

// On Windows, Go delivers Ctrl-C and Ctrl-Break as os.Interrupt and a
// closed console window, log-off or shutdown as SIGTERM (the process then
// has a few seconds before Windows ends it).
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func unixSignalName(os.Signal) (string, bool) { return "", false }
