package reaper

import "syscall"

const (
	detachedProcess          = 0x00000008 // DETACHED_PROCESS: no console
	belowNormalPriorityClass = 0x00004000 // BELOW_NORMAL_PRIORITY_CLASS
)

// detached gives the watchdog its own process group and no console, so
// Ctrl-C and closing the agent's console window do not end it, and a
// priority below the agent's and the engine's (see lowerPriority).
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess | belowNormalPriorityClass}
}

// lowerPriority is done by detached's creation flags on Windows.
func lowerPriority(int) {}

const processQueryLimitedInformation = 0x1000

// Alive reports whether a process with this pid exists and has not exited.
func Alive(pid int) bool {
	h, err := syscall.OpenProcess(processQueryLimitedInformation, false, uint32(pid))
	if err != nil {
		// Access denied means it exists.
		return err == syscall.ERROR_ACCESS_DENIED
	}
	defer syscall.CloseHandle(h)
	var code uint32
	if err := syscall.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	const stillActive = 259
	return code == stillActive
}
