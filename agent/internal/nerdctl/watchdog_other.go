//go:build !unix

package nerdctl

// watchdog: off Unix there is no shell to run it; a killed agent's probe
// still ends at its own deadline, and the container stays until removed.
type watchdog struct{}

func startWatchdog(*Client, string) *watchdog { return nil }

func (*watchdog) watch(int) {}

func (*watchdog) dismiss() {}
func (*watchdog) release() {}
