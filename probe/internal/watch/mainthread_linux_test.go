package watch

import "runtime"

// Keep the test binary's main thread for the main goroutine, as the probe's
// main does: a goroutine that enters another namespace and never unlocks
// must not land on the main thread, which the runtime cannot discard and
// which /proc/<pid>/ns/* describe.
func init() { runtime.LockOSThread() }
