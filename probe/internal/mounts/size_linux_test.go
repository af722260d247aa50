package mounts

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// An 8 KiB mountinfo line (a long, escaped mount point) parses.
func TestParseLongLine(t *testing.T) {
	long := "/run/desktop/mnt/host/c/" + strings.Repeat(`dir\040with\040space/`, 8<<10/21)
	line := "36 35 98:0 / " + long + " rw,noatime shared:1 - ext4 /dev/sdc rw,errors=remount-ro\n"
	if len(line) < 8<<10 {
		t.Fatalf("test line is %d bytes, want ≥ 8 KiB", len(line))
	}
	ms, err := Parse(strings.NewReader("22 28 0:20 / /sys rw - sysfs sysfs rw\n" + line))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || !strings.HasPrefix(ms[1].GetMountPoint(), "/run/desktop/mnt/host/c/dir with space/") || ms[1].GetPropagation() != "shared" {
		t.Fatalf("got %d mounts, second %q", len(ms), ms[len(ms)-1].GetMountPoint())
	}
}

// A 2 MiB mountinfo (a busy host: ~15000 mounts) parses, and one bad line
// in the middle costs that line only.
func TestParseTwoMiB(t *testing.T) {
	var b strings.Builder
	n := 0
	for b.Len() < 2<<20 {
		n++
		fmt.Fprintf(&b, "%d 28 0:%d / /var/lib/docker/overlay2/%064d/merged rw,relatime shared:%d - overlay overlay rw,lowerdir=/a:/b,upperdir=/c,workdir=/d\n", n+100, n%4096, n, n)
		if n == 5000 {
			b.WriteString("garbage line in the middle\n")
		}
	}
	ms, err := Parse(strings.NewReader(b.String()))
	if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), "line 5001") {
		t.Fatalf("error = %v, want ErrParse for line 5001", err)
	}
	if len(ms) != n {
		t.Fatalf("parsed %d mounts of %d good lines", len(ms), n)
	}
}

// Many bad lines: the error quotes a few and counts the rest.
func TestParseManyBadLines(t *testing.T) {
	in := strings.Repeat("bad\n", 100) + "22 28 0:20 / /sys rw - sysfs sysfs rw\n"
	ms, err := Parse(strings.NewReader(in))
	if len(ms) != 1 || err == nil || !strings.Contains(err.Error(), "and 95 more malformed lines") {
		t.Fatalf("got %d mounts, error %v", len(ms), err)
	}
}
