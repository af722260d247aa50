package checks

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// desktopWith is the Docker Desktop capture with issue 13's facts set by
// the test.
func desktopWith(t *testing.T, edit func(rep *probev1.Report)) map[string]*probev1.Finding {
	t.Helper()
	rep := load(t, "desktop")
	edit(rep)
	return run(rep)
}

const gib = 1 << 30

func TestVMDisk(t *testing.T) {
	fs := func(total, avail, inodes, freeInodes float64) func(*probev1.Report) {
		return func(r *probev1.Report) {
			r.VmState = &probev1.VmState{DataRoot: &probev1.Filesystem{Path: "/var/lib/docker", TotalBytes: total, FreeBytes: avail, AvailableBytes: avail, TotalInodes: inodes, FreeInodes: freeInodes}}
			r.EngineUsage = &probev1.EngineUsage{DfMeasured: true, ImagesBytes: 12 * gib, BuildCacheBytes: 3 * gib, BuildCacheReclaimableBytes: 3 * gib}
		}
	}
	for _, tt := range []struct {
		name string
		edit func(*probev1.Report)
		want string
	}{
		{"half full", fs(100*gib, 50*gib, 1000, 900), "pass ok"},
		{"85% full", fs(100*gib, 15*gib, 1000, 900), "warn warning"},
		{"96% full", fs(100*gib, 4*gib, 1000, 900), "fail error"},
		{"inodes 95% used", fs(100*gib, 50*gib, 1000, 50), "fail error"},
		{"not measured", func(r *probev1.Report) {
			r.VmState = &probev1.VmState{DataRoot: &probev1.Filesystem{Path: "/var/lib/docker", Error: "statfs: permission denied"}}
		}, "skip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := desktopWith(t, tt.edit)
			expect(t, got, map[string]string{IDVMDisk: tt.want})
			if tt.want != "skip" && !strings.Contains(strings.Join(got[IDVMDisk].Evidence, "\n"), "build cache 3.0 GiB (3.0 GiB reclaimable)") {
				t.Errorf("no engine totals in %q", got[IDVMDisk].Evidence)
			}
		})
	}
	got := desktopWith(t, func(r *probev1.Report) {
		fs(100*gib, 50*gib, 0, 0)(r)
		r.EngineUsage = &probev1.EngineUsage{DfError: "not measured: /system/df did not answer within 3s"}
	})
	if ev := strings.Join(got[IDVMDisk].Evidence, "\n"); !strings.Contains(ev, "not measured") || strings.Contains(ev, "inodes") {
		t.Errorf("evidence = %s", ev)
	}
}

// reading is a clock reading whose remote is off by offset, with a
// round trip of rtt, on a fake host clock starting at t0.
func reading(t0 time.Time, offset, rtt time.Duration) *probev1.ClockReading {
	return &probev1.ClockReading{Asked: timestamppb.New(t0), Answered: timestamppb.New(t0.Add(rtt)), Remote: timestamppb.New(t0.Add(rtt / 2).Add(offset))}
}

func TestVMClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name          string
		engine, probe *probev1.ClockReading
		want          string
	}{
		{"in step", reading(t0, 50*time.Millisecond, 20*time.Millisecond), reading(t0, -10*time.Millisecond, 4*time.Millisecond), "pass ok"},
		{"5 s behind", reading(t0, -5*time.Second, 20*time.Millisecond), nil, "warn warning"},
		{"an hour ahead", nil, reading(t0, time.Hour, 20*time.Millisecond), "fail error"},
		// 2.5 s off but the round trip took 2 s: only 1.5 s is certain.
		{"slow round trip", reading(t0, 2500*time.Millisecond, 2*time.Second), nil, "pass ok"},
		{"no readings", nil, nil, "skip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := desktopWith(t, func(r *probev1.Report) { r.Engine.Clock, r.ProbeClock = tt.engine, tt.probe })
			expect(t, got, map[string]string{IDVMClock: tt.want})
		})
	}
	got := desktopWith(t, func(r *probev1.Report) { r.Engine.Clock = reading(t0, -5*time.Second, 20*time.Millisecond) })
	if f := got[IDVMClock]; !strings.Contains(f.Fix, "wsl --shutdown") || !strings.Contains(strings.Join(f.Evidence, ""), "-5.000s") {
		t.Errorf("vm.clock = %v", f)
	}
}

func TestMTU(t *testing.T) {
	setHost := func(mtu int32) func(*probev1.Report) {
		return func(r *probev1.Report) {
			r.Host = &probev1.Host{
				Interfaces: []*probev1.Interface{{Name: "Wi-Fi", Mtu: 1500}, {Name: "vpn0", Mtu: mtu}},
				Routes: []*probev1.Route{{Destination: "0.0.0.0/0", Gateway: "192.168.1.1", Device: "Wi-Fi", Metric: 50},
					{Destination: "0.0.0.0/0", Gateway: "10.8.0.1", Device: "vpn0", Metric: 1}},
			}
		}
	}
	got := desktopWith(t, setHost(1400))
	expect(t, got, map[string]string{IDNetMTU: "warn warning"})
	if f := got[IDNetMTU]; !strings.Contains(f.Summary, "eth0 (1500)") || !strings.Contains(f.Fix, `"mtu": 1400`) || !strings.Contains(f.Evidence[0], "dev vpn0: MTU 1400") {
		t.Errorf("net.mtu = %v", f)
	}
	expect(t, desktopWith(t, setHost(1500)), map[string]string{IDNetMTU: "pass ok"})
	expect(t, desktopWith(t, func(r *probev1.Report) { r.Host = &probev1.Host{} }), map[string]string{IDNetMTU: "skip"})
}

func TestForwarding(t *testing.T) {
	fwd := func(v4, v6 string, v6on bool) func(*probev1.Report) {
		return func(r *probev1.Report) {
			r.VmState = &probev1.VmState{Forwarding: &probev1.Forwarding{Ipv4: v4, Ipv6: v6, Ipv6Enabled: v6on}}
		}
	}
	expect(t, desktopWith(t, fwd("1", "1", true)), map[string]string{IDNetForwarding: "pass ok"})
	expect(t, desktopWith(t, fwd("0", "1", true)), map[string]string{IDNetForwarding: "fail error"})
	// IPv6 forwarding off matters only when a network uses IPv6.
	expect(t, desktopWith(t, fwd("1", "0", true)), map[string]string{IDNetForwarding: "pass ok"})
	expect(t, desktopWith(t, func(r *probev1.Report) {
		fwd("1", "0", true)(r)
		r.Engine.Networks[0].EnableIpv6 = true
	}), map[string]string{IDNetForwarding: "fail error"})
	expect(t, desktopWith(t, func(r *probev1.Report) {
		r.VmState = &probev1.VmState{Forwarding: &probev1.Forwarding{Error: "enter net namespace: operation not permitted"}}
	}), map[string]string{IDNetForwarding: "skip"})
}

func TestProxy(t *testing.T) {
	hostProxy := []*probev1.ProxySetting{{Source: "Internet Settings", HttpProxy: "http://proxy.corp:8080", HttpsProxy: "http://proxy.corp:8080"}}
	for _, tt := range []struct {
		name      string
		host      []*probev1.ProxySetting
		http, no  string
		want, has string
	}{
		{"none", nil, "", "", "pass ok", "no proxy"},
		{"host only", hostProxy, "", "", "warn warning", "engine does not"},
		{"engine without exemptions", hostProxy, "http://proxy.corp:8080", "localhost", "warn warning", "lacks host.docker.internal and 192.168.65.0/24"},
		{"engine exempts", hostProxy, "http://proxy.corp:8080", "localhost,*.docker.internal,192.168.0.0/16", "pass ok", "exempts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := desktopWith(t, func(r *probev1.Report) {
				if r.Host == nil {
					r.Host = &probev1.Host{}
				}
				r.Host.Proxies = tt.host
				r.Engine.HttpProxy, r.Engine.NoProxy = tt.http, tt.no
			})
			expect(t, got, map[string]string{IDEngineProxy: tt.want})
			if !strings.Contains(got[IDEngineProxy].Summary, tt.has) {
				t.Errorf("summary %q lacks %q", got[IDEngineProxy].Summary, tt.has)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	mem := &probev1.Memory{TotalBytes: 8 * gib, AvailableBytes: 2 * gib, OomKills: 0}
	expect(t, desktopWith(t, func(r *probev1.Report) {
		r.VmState = &probev1.VmState{Memory: mem}
		r.EngineUsage = &probev1.EngineUsage{}
	}), map[string]string{IDVMMemory: "pass ok"})
	got := desktopWith(t, func(r *probev1.Report) {
		r.VmState = &probev1.VmState{Memory: &probev1.Memory{TotalBytes: 8 * gib, AvailableBytes: 2 * gib, OomKills: 3}}
		r.EngineUsage = &probev1.EngineUsage{OomKilled: []*probev1.ContainerRef{{Name: "hog", Image: "dockprobe-e2e/hog", MemoryLimitBytes: 16 << 20, State: "exited"}}}
	})
	expect(t, got, map[string]string{IDVMMemory: "warn warning"})
	if ev := strings.Join(got[IDVMMemory].Evidence, "\n"); !strings.Contains(ev, "container hog (image dockprobe-e2e/hog, exited) OOMKilled, limit 16.0 MiB") || !strings.Contains(ev, "oom_kill 3") {
		t.Errorf("evidence = %s", ev)
	}
	expect(t, desktopWith(t, func(r *probev1.Report) {
		r.VmState = &probev1.VmState{Memory: &probev1.Memory{TotalBytes: 8 * gib, OomKills: 3}}
		r.EngineUsage = &probev1.EngineUsage{}
	}), map[string]string{IDVMMemory: "pass info"})
}

func TestSlowBinds(t *testing.T) {
	expect(t, desktopWith(t, func(r *probev1.Report) { r.EngineUsage = &probev1.EngineUsage{} }), map[string]string{IDSharesSlowBinds: "pass ok"})
	got := desktopWith(t, func(r *probev1.Report) {
		r.EngineUsage = &probev1.EngineUsage{ShareBinds: []*probev1.ContainerRef{{Name: "web", Image: "node:22", Source: "/run/desktop/mnt/host/c/src/app", Destination: "/app"}}}
	})
	expect(t, got, map[string]string{IDSharesSlowBinds: "pass info"})
	if f := got[IDSharesSlowBinds]; !strings.Contains(f.Evidence[0], "binds /run/desktop/mnt/host/c/src/app at /app") || !strings.Contains(f.Fix, "WSL file system") {
		t.Errorf("shares.slow-binds = %v", f)
	}
	expect(t, desktopWith(t, func(r *probev1.Report) { r.EngineUsage = nil }), map[string]string{IDSharesSlowBinds: "skip"})
}

func TestAncestry(t *testing.T) {
	got := desktopWith(t, func(r *probev1.Report) {
		r.Target.Ancestry = []*probev1.AncestryStep{
			{Pid: 1, Comm: "init", Error: "namespaces: readlink /proc/1/ns/cgroup: permission denied"},
			{Pid: 812, Ppid: 1, Comm: "containerd-shim", Error: "parent 1's namespaces could not be read: which ones this step enters is unknown"},
			{Pid: 830, Ppid: 812, Comm: "docker-init", Enters: []string{"mnt:[4026532301]", "pid:[4026532303]"}},
			{Pid: 143, Ppid: 830, Comm: "dockerd"},
		}
	})
	expect(t, got, map[string]string{IDTargetAncestry: "pass info"})
	f := got[IDTargetAncestry]
	if !strings.HasPrefix(f.Summary, "init(1) -> containerd-shim(812) -> docker-init(830) -> dockerd(143); 1 step(s) enter new namespaces") {
		t.Errorf("summary %q", f.Summary)
	}
	if ev := strings.Join(f.Evidence, "\n"); !strings.Contains(ev, "pid 830 docker-init: enters mnt:[4026532301], pid:[4026532303]") || !strings.Contains(ev, "could not read: namespaces: readlink /proc/1/ns/cgroup") {
		t.Errorf("evidence = %s", ev)
	}
}

func TestBytes(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 16 << 20: "16.0 MiB", 59.5 * gib: "59.5 GiB"} {
		if got := Bytes(in); got != want {
			t.Errorf("Bytes(%v) = %q, want %q", in, got, want)
		}
	}
}
