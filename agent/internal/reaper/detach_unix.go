//go:build !windows

package reaper

import (
	"errors"
	"syscall"
)

// detached puts the watchdog in its own session: no terminal signals.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// lowerPriority makes the watchdog yield the CPU to everything else: it
// starts while the engine creates the probe container, and on a machine
// with two cores its start-up otherwise slowed that create measurably. It
// has nothing urgent to do; a failure leaves it at normal priority.
func lowerPriority(pid int) { _ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, 19) }

// Alive reports whether a process with this pid exists (EPERM: it exists
// but belongs to someone else).
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
