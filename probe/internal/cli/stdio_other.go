//go:build !linux

package cli

import (
	"io"
	"os"
)

// Stdio returns the process's stdin and stdout; only Linux probes run for real.
func Stdio() (io.ReadCloser, io.WriteCloser) { return os.Stdin, os.Stdout }
