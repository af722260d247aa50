package watch

import (
	"slices"
	"testing"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func TestMountDiff(t *testing.T) {
	m := func(id int32, point, opts string) *probev1.Mount {
		return &probev1.Mount{Id: id, MountPoint: point, Options: opts, FsType: "tmpfs", Source: "none"}
	}
	before := []*probev1.Mount{m(1, "/", "rw"), m(2, "/run", "rw"), m(3, "/mnt", "rw")}
	after := []*probev1.Mount{m(1, "/", "rw"), m(3, "/mnt", "ro"), m(4, "/mnt/host/c", "rw")}
	var got []string
	for _, e := range MountDiff(before, after) {
		got = append(got, e.GetAction()+" "+e.GetMount().GetMountPoint())
		if e.GetKind() != KindMount || e.GetSummary() == "" {
			t.Errorf("event %v: kind %q, summary %q", e, e.GetKind(), e.GetSummary())
		}
	}
	want := []string{"changed /mnt", "added /mnt/host/c", "removed /run"}
	if !slices.Equal(got, want) {
		t.Errorf("MountDiff = %q, want %q", got, want)
	}
	if len(MountDiff(after, after)) != 0 {
		t.Error("no change must give no events")
	}
}

func TestLinkChange(t *testing.T) {
	down := linkState{name: "eth1", oper: "down"}
	upNoCarrier := linkState{name: "eth1", up: true, oper: "lowerlayerdown"}
	up := linkState{name: "eth1", up: true, oper: "up"}
	for _, tc := range []struct {
		name    string
		prev    linkState
		known   bool
		cur     linkState
		deleted bool
		want    string
	}{
		{"new", linkState{}, false, down, false, ActionAdded},
		{"deleted", up, true, up, true, ActionRemoved},
		{"admin up", down, true, upNoCarrier, false, ActionUp},
		{"carrier", upNoCarrier, true, up, false, ActionChanged},
		{"admin down", up, true, down, false, ActionDown},
		{"renamed", up, true, linkState{name: "eth2", up: true, oper: "up"}, false, ActionRenamed},
		{"statistics only", up, true, up, false, ""},
	} {
		if got := linkChange(tc.prev, tc.known, tc.cur, tc.deleted); got != tc.want {
			t.Errorf("%s: linkChange = %q, want %q", tc.name, got, tc.want)
		}
	}
}
