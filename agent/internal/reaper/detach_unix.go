//go:build !windows

package reaper

import (
	"errors"
	"syscall"
)

// detached puts the watchdog in its own session: no terminal signals.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// Alive reports whether a process with this pid exists (EPERM: it exists
// but belongs to someone else).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
