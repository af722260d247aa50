package cli

import (
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Stdio returns the gRPC stream ends and points fd 1 at stderr, so that a
// stray write to stdout from anywhere in the process can never corrupt the
// stream: only the returned writer reaches the agent.
func Stdio() (io.ReadCloser, io.WriteCloser) {
	fd, err := unix.Dup(1)
	if err != nil {
		return os.Stdin, os.Stdout
	}
	unix.CloseOnExec(fd)
	if err := unix.Dup2(2, 1); err != nil {
		unix.Close(fd)
		return os.Stdin, os.Stdout
	}
	out := os.NewFile(uintptr(fd), "grpc-stdout")
	os.Stdout = os.Stderr
	return os.Stdin, out
}

// The main goroutine keeps the main thread for the whole run (an init runs
// on it), so that no goroutine that enters another namespace and is then
// never unlocked can land there: the runtime cannot discard the main thread,
// and /proc/self/ns/* describe it.
func init() { runtime.LockOSThread() }
