package mounts

import (
	"strings"
	"testing"
)

// FuzzParsePropagation: any optional fields give one of the five modes and
// non-negative groups.
func FuzzParsePropagation(f *testing.F) {
	for _, s := range []string{"", "shared:1", "master:2", "shared:3 master:4", "unbindable", "propagate_from:5", "shared:-1", "shared:99999999999", "master:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := ParsePropagation(strings.Fields(s))
		switch p.Mode {
		case "shared", "slave", "shared+slave", "unbindable", "private":
		default:
			t.Fatalf("mode %q for %q", p.Mode, s)
		}
		if p.PeerGroup < 0 || p.MasterGroup < 0 {
			t.Fatalf("negative group for %q: %+v", s, p)
		}
	})
}
