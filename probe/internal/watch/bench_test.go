package watch

import (
	"fmt"
	"testing"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// BenchmarkMountDiff is the cost of one mount-table change at 10,000
// mounts: the watch re-reads and diffs the table on every change.
func BenchmarkMountDiff(b *testing.B) {
	before := make([]*probev1.Mount, 10000)
	for i := range before {
		before[i] = &probev1.Mount{Id: int32(i + 1), MountPoint: fmt.Sprintf("/mnt/%d", i), Options: "rw", FsType: "tmpfs"}
	}
	after := append(before[1:len(before):len(before)], &probev1.Mount{Id: 20000, MountPoint: "/mnt/new", Options: "rw"})
	b.ReportAllocs()
	for b.Loop() {
		if len(MountDiff(before, after)) != 2 {
			b.Fatal("want 2 events")
		}
	}
}
