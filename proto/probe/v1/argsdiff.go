package probev1

import "slices"

// ArgsDiff returns the arguments only in after and only in before, each in
// its own order: what a restart changed on a daemon's command line, as
// WatchEvent.args_added and args_removed carry it. Both sides compute it
// (the probe for a restart it sees, the agent across a relaunch).
func ArgsDiff(before, after []string) (added, removed []string) {
	for _, a := range after {
		if !slices.Contains(before, a) {
			added = append(added, a)
		}
	}
	for _, b := range before {
		if !slices.Contains(after, b) {
			removed = append(removed, b)
		}
	}
	return added, removed
}
