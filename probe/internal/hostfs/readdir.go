package hostfs

import (
	"errors"
	"slices"
	"strings"
)

// DirEntry is one name in a directory read inside a process's root. Only
// the name and kind are reported: nothing is followed or opened.
type DirEntry struct {
	Name    string
	Regular bool
	Dir     bool
	Symlink bool
}

// ErrTooManyEntries is returned, with the first max entries, when a
// directory holds more than the caller's cap.
var ErrTooManyEntries = errors.New("too many directory entries")

func sortEntries(es []DirEntry) {
	slices.SortFunc(es, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
}
