package mounts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	"google.golang.org/protobuf/proto"
)

func parseFile(t testing.TB, name string) []*probev1.Mount {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return ms
}

func find(ms []*probev1.Mount, mountPoint string) *probev1.Mount {
	for _, m := range ms {
		if m.GetMountPoint() == mountPoint {
			return m
		}
	}
	return nil
}

func TestParseCaptures(t *testing.T) {
	tests := []struct {
		file  string
		count int
		want  []*probev1.Mount
	}{
		{
			file:  "desktop-wsl2.mountinfo",
			count: 15,
			want: []*probev1.Mount{
				{
					Id: 120, ParentId: 63, Major: 0, Minor: 61, MajorMinor: "0:61", Root: "/",
					MountPoint: "/run/desktop/mnt/host/c", Options: "rw,noatime",
					OptionalFields: []string{"shared:30"}, Propagation: "shared", PeerGroup: 30,
					FsType: "9p", Source: `C:\`,
					SuperOptions: `rw,dirsync,aname=drvfs;path=C:\;uid=0;gid=0;metadata;symlinkroot=/mnt/host/,mmap,access=client,msize=65536,trans=fd,rfd=5,wfd=5`,
				},
				{
					Id: 84, ParentId: 62, Major: 0, Minor: 61, MajorMinor: "0:61", Root: "/",
					MountPoint: "/mnt/host/c", Options: "rw,noatime", Propagation: "private",
					FsType: "9p", Source: `C:\`,
					SuperOptions: `rw,dirsync,aname=drvfs;path=C:\;uid=0;gid=0;metadata;symlinkroot=/mnt/host/,mmap,access=client,msize=65536,trans=fd,rfd=5,wfd=5`,
				},
				{
					Id: 150, ParentId: 120, Major: 0, Minor: 61, MajorMinor: "0:61", Root: "/Users/John Doe/src",
					MountPoint: "/run/desktop/mnt/host/c/Users/John Doe/src", Options: "rw,noatime",
					OptionalFields: []string{"shared:30", "master:12"}, Propagation: "shared+slave", PeerGroup: 30, MasterGroup: 12,
					FsType: "9p", Source: `C:\`,
					SuperOptions: `rw,dirsync,aname=drvfs;path=C:\;uid=0;gid=0;metadata;symlinkroot=/mnt/host/,mmap,access=client,msize=65536,trans=fd,rfd=5,wfd=5`,
				},
				{
					Id: 97, ParentId: 62, Major: 8, Minor: 64, MajorMinor: "8:64", Root: "/data/docker",
					MountPoint: "/var/lib/docker", Options: "rw,relatime", OptionalFields: []string{"shared:34"},
					Propagation: "shared", PeerGroup: 34, FsType: "ext4", Source: "/dev/sde",
					SuperOptions: "rw,discard,errors=remount-ro,data=ordered",
				},
				{
					Id: 130, ParentId: 63, Major: 0, Minor: 4, MajorMinor: "0:4", Root: "net:[4026532589]",
					MountPoint: "/run/docker/netns/3c1ad3b2a4b8", Options: "rw", OptionalFields: []string{"shared:41"},
					Propagation: "shared", PeerGroup: 41, FsType: "nsfs", Source: "nsfs", SuperOptions: "rw",
				},
				{
					Id: 160, ParentId: 63, Major: 0, Minor: 80, MajorMinor: "0:80", Root: "/",
					MountPoint: "/run/host-services", Options: "rw,nosuid,nodev,relatime", OptionalFields: []string{"unbindable"},
					Propagation: "unbindable", FsType: "tmpfs", Source: "tmpfs", SuperOptions: "rw,size=1024k",
				},
			},
		},
		{
			file:  "linux-host.mountinfo",
			count: 14,
			want: []*probev1.Mount{
				{
					Id: 28, ParentId: 1, Major: 259, Minor: 2, MajorMinor: "259:2", Root: "/", MountPoint: "/",
					Options: "rw,relatime", OptionalFields: []string{"shared:1"}, Propagation: "shared", PeerGroup: 1,
					FsType: "ext4", Source: "/dev/nvme0n1p2", SuperOptions: "rw,errors=remount-ro",
				},
				{
					Id: 612, ParentId: 28, Major: 8, Minor: 17, MajorMinor: "8:17", Root: "/", MountPoint: "/media/alice/USB DRIVE",
					Options: "rw,nosuid,nodev,relatime", OptionalFields: []string{"shared:330"}, Propagation: "shared", PeerGroup: 330,
					FsType: "vfat", Source: "/dev/sdb1",
					SuperOptions: "rw,uid=1000,gid=1000,fmask=0022,dmask=0022,codepage=437,iocharset=iso8859-1,shortname=mixed,showexec,utf8,flush,errors=remount-ro",
				},
				{
					Id: 800, ParentId: 28, Major: 0, Minor: 60, MajorMinor: "0:60", Root: "/", MountPoint: "/mnt/slave",
					Options: "rw,relatime", OptionalFields: []string{"master:339"}, Propagation: "slave", MasterGroup: 339,
					FsType: "tmpfs", Source: "tmpfs", SuperOptions: "rw",
				},
			},
		},
		{
			file:  "container.mountinfo",
			count: 6,
			want: []*probev1.Mount{
				{
					Id: 1465, ParentId: 1456, Major: 8, Minor: 64, MajorMinor: "8:64", Root: "/data/docker/containers/0c9d/hosts",
					MountPoint: "/etc/hosts", Options: "rw,relatime", Propagation: "private", FsType: "ext4", Source: "/dev/sde",
					SuperOptions: "rw,discard,errors=remount-ro,data=ordered",
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ms := parseFile(t, tt.file)
			if len(ms) != tt.count {
				t.Errorf("got %d mounts, want %d", len(ms), tt.count)
			}
			for _, want := range tt.want {
				got := find(ms, want.GetMountPoint())
				if !proto.Equal(got, want) {
					t.Errorf("mount %s =\n%v\nwant\n%v", want.GetMountPoint(), got, want)
				}
			}
			for _, m := range ms {
				if m.GetPropagation() == "" || m.GetMajorMinor() == "" {
					t.Errorf("mount %s lacks propagation or major:minor", m.GetMountPoint())
				}
			}
		})
	}
}

var malformed = []struct {
	name string
	line string
}{
	{"not enough fields", "36 35 98:0 /mnt1 /mnt2 rw - ext3"},
	{"missing separator", "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw,errors=continue x"},
	{"bad major:minor", "36 35 980 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"},
}

func TestParseMalformed(t *testing.T) {
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Parse(strings.NewReader("22 28 0:20 / /sys rw - sysfs sysfs rw\n" + tt.line + "\n23 28 0:21 / /proc rw - proc proc rw\n"))
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error = %v, want ErrParse", err)
			}
			// A bad line is an error for that line, never for the file.
			if len(ms) != 2 || find(ms, "/sys") == nil || find(ms, "/proc") == nil {
				t.Errorf("good lines around the bad one: got %d mounts", len(ms))
			}
			if !strings.Contains(err.Error(), "line 2") {
				t.Errorf("error %q does not name line 2", err)
			}
			if !strings.Contains(err.Error(), tt.line) {
				t.Errorf("error %q does not quote the bad line", err)
			}
		})
	}
}

func TestReadRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc here")
	}
	ms, err := Read(hostfs.New("/proc"), os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if find(ms, "/") == nil {
		t.Errorf("no / among %d mounts", len(ms))
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"desktop-wsl2.mountinfo", "linux-host.mountinfo", "container.mountinfo"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, tt := range malformed {
		f.Add(tt.line)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Partial results come with an error: check them too.
		ms, err := Parse(strings.NewReader(s))
		if err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error %v is not ErrParse", err)
		}
		for _, m := range ms {
			switch m.GetPropagation() {
			case "shared", "slave", "shared+slave", "unbindable", "private":
			default:
				t.Fatalf("propagation %q", m.GetPropagation())
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile("testdata/desktop-wsl2.mountinfo")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}
