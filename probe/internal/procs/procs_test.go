package procs

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

var statCases = []struct {
	name    string
	in      string
	want    Stat
	wantErr bool
}{
	{
		name: "dockerd",
		in:   "2343 (dockerd) S 1 2338 1057 0 -1 4194560 7934 9879 21 18 17 12 9 2 20 0 9 0 13161 1418616832 19119 18446744073709551615\n",
		want: Stat{PID: 2343, Comm: "dockerd", State: "S", PPID: 1},
	},
	{
		name: "kernel thread",
		in:   "57 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0",
		want: Stat{PID: 57, Comm: "kworker/0:1-events", State: "I", PPID: 2},
	},
	{
		name: "comm with spaces and parens",
		in:   "1444 (weird ) (name) S 1 1444 1444 0 -1 0",
		want: Stat{PID: 1444, Comm: "weird ) (name", State: "S", PPID: 1},
	},
	{name: "pid 1 has ppid 0", in: "1 (init) S 0 1 1 0 -1", want: Stat{PID: 1, Comm: "init", State: "S", PPID: 0}},
	{name: "empty", in: "", wantErr: true},
	{name: "no comm", in: "12 dockerd S 1", wantErr: true},
	{name: "truncated after comm", in: "12 (dockerd) S", wantErr: true},
	{name: "bad ppid", in: "12 (dockerd) S x", wantErr: true},
	{name: "bad pid", in: "x (dockerd) S 1", wantErr: true},
	{name: "close before open", in: ") 12 (", wantErr: true},
}

func TestParseStat(t *testing.T) {
	for _, tt := range statCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("ParseStat(%q) error = %v, want ErrParse", tt.in, err)
				}
				if tt.in != "" && !strings.Contains(err.Error(), strings.TrimSpace(tt.in)[:1]) {
					t.Errorf("error %q does not quote the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStat(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

var cmdlineCases = []struct {
	name string
	in   string
	want []string
}{
	{name: "dockerd", in: "/usr/local/bin/dockerd\x00--containerd\x00/run/containerd.sock\x00", want: []string{"/usr/local/bin/dockerd", "--containerd", "/run/containerd.sock"}},
	{name: "kernel thread", in: "", want: nil},
	{name: "empty argument kept", in: "sh\x00-c\x00\x00", want: []string{"sh", "-c"}},
	{name: "empty argument in the middle", in: "a\x00\x00b\x00", want: []string{"a", "", "b"}},
	{name: "setproctitle without NUL", in: "postgres: checkpointer", want: []string{"postgres: checkpointer"}},
	{name: "padded with NULs", in: "nginx: worker\x00\x00\x00\x00", want: []string{"nginx: worker"}},
}

func TestParseCmdline(t *testing.T) {
	for _, tt := range cmdlineCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCmdline([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCmdline(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInteresting(t *testing.T) {
	for comm, want := range map[string]bool{
		"dockerd": true, "containerd": true, "containerd-shim": true, "kubelet": true,
		"k3s-server": true, "buildkitd": true, "vpnkit-bridge": true, "com.docker.back": true,
		"bash": false, "kworker/0:1": false, "docker": false, "containerd2": false,
	} {
		if got := Interesting(comm); got != want {
			t.Errorf("Interesting(%q) = %v, want %v", comm, got, want)
		}
	}
}

func TestScan(t *testing.T) {
	got, err := Scan(hostfs.New("testdata/proc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Process{
		{PID: 131, PPID: 1, Comm: "containerd", Argv: []string{"/usr/local/bin/containerd", "--config", "/etc/containerd/containerd.toml"}},
		{PID: 143, PPID: 1, Comm: "dockerd", Argv: []string{"/usr/local/bin/dockerd", "--containerd", "/var/run/desktop-containerd/containerd.sock", "--pidfile", "/run/desktop/docker.pid", "--swarm-default-advertise-addr=192.168.65.3", "--host-gateway-ip", "192.168.65.254"}},
		{PID: 401, PPID: 1, Comm: "vpnkit-bridge", Argv: []string{"/usr/bin/vpnkit-bridge", "--addr", "listen://1999", "host"}},
		{PID: 880, PPID: 1, Comm: "containerd-shim", Argv: []string{"/usr/local/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "3f1c9a0d2b7e", "-address", "/var/run/desktop-containerd/containerd.sock"}},
		// 1500 has a comm but vanished before its stat was read: skipped.
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Scan() =\n%+v\nwant\n%+v", got, want)
	}
}

// The table comes from the same pass as the kept processes: every
// process, argv-less, in pid order.
func TestScanTableChildren(t *testing.T) {
	kept, all, err := ScanTable(hostfs.New("testdata/proc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 4 || len(all) <= len(kept) {
		t.Fatalf("ScanTable kept %d of %d processes", len(kept), len(all))
	}
	for _, p := range all {
		if p.Argv != nil {
			t.Errorf("table entry %d carries argv %q", p.PID, p.Argv)
		}
	}
	got := all.Children(func(ppid int) bool { return ppid == 880 || ppid == 2 })
	want := []Process{{PID: 57, PPID: 2, Comm: "kworker/0:1-eve"}, {PID: 905, PPID: 880, Comm: "probe"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Children() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestScanRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	self := os.Getpid()
	got, err := Scan(hostfs.New("/proc"), func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.PID == self {
			if p.PPID != os.Getppid() || len(p.Argv) == 0 || p.Argv[0] != os.Args[0] {
				t.Errorf("own process = %+v, want ppid %d argv0 %q", p, os.Getppid(), os.Args[0])
			}
			return
		}
	}
	t.Errorf("Scan did not list this process (%d)", self)
}

func FuzzParseStat(f *testing.F) {
	for _, tt := range statCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err == nil && (st.PID <= 0 || st.PPID < 0) {
			t.Errorf("ParseStat(%q) = %+v without error", b, st)
		}
	})
}

func FuzzParseCmdline(f *testing.F) {
	for _, tt := range cmdlineCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		argv := ParseCmdline(b)
		if joined := strings.Join(argv, "\x00"); joined != strings.TrimRight(string(b), "\x00") {
			t.Errorf("ParseCmdline(%q) = %q does not round-trip", b, argv)
		}
	})
}

func BenchmarkParseStat(b *testing.B) {
	in := []byte(statCases[0].in)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStat(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanRealProc(b *testing.B) {
	fsys := hostfs.New("/proc")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scan(fsys, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCmdline(b *testing.B) {
	in := []byte(cmdlineCases[0].in)
	b.ReportAllocs()
	for b.Loop() {
		ParseCmdline(in)
	}
}
