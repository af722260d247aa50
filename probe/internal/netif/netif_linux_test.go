package netif

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// TestOpenRealNamespace builds a network namespace with ip(8) (a bridge,
// veth pairs, addresses, routes in two tables), starts a process inside it
// and reads it back through Open, the way the probe reads the engine's VM.
// It needs root and leaves nothing behind.
func TestOpenRealNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("needs ip(8) from iproute2")
	}
	ns := fmt.Sprintf("dockprobe-netif-%d", os.Getpid())
	other := ns + "-peer"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipPath, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{ns, other} {
		ip("netns", "add", n)
		t.Cleanup(func() { _ = exec.Command(ipPath, "netns", "del", n).Run() })
	}
	in := func(args ...string) { t.Helper(); ip(append([]string{"-n", ns}, args...)...) }
	in("link", "set", "lo", "up")
	in("link", "add", "br0", "type", "bridge")
	in("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	in("link", "set", "veth1", "master", "br0")
	// A veth whose peer sits in another namespace, as a container's does.
	in("link", "add", "vx0", "type", "veth", "peer", "name", "vx1", "netns", other)
	in("addr", "add", "192.168.65.3/24", "brd", "+", "dev", "br0")
	in("addr", "add", "10.1.2.1/30", "dev", "veth0", "label", "veth0:svc")
	in("addr", "add", "fd00:65::3/64", "dev", "br0", "nodad")
	for _, l := range []string{"br0", "veth0", "veth1", "vx0"} {
		in("link", "set", l, "up")
	}
	in("route", "add", "default", "via", "192.168.65.1", "dev", "br0")
	in("route", "add", "10.9.0.0/16", "via", "192.168.65.254", "dev", "br0", "metric", "50", "proto", "static")
	in("route", "add", "172.30.0.0/16", "dev", "br0", "table", "100")

	fsys := hostfs.New("/proc")
	pid := startIn(t, fsys, ipPath, "netns", "exec", ns, "sleep", "60")

	h, err := Open(fsys, pid)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer h.Close()
	ifs, err := h.Interfaces()
	if err != nil {
		t.Fatalf("Interfaces: %v", err)
	}
	byName := map[string]*probev1.Interface{}
	for _, i := range ifs {
		byName[i.GetName()] = i
	}
	if len(ifs) != 5 {
		t.Errorf("got interfaces %v, want lo br0 veth0 veth1 vx0", keys(byName))
	}
	if lo := byName["lo"]; lo == nil || !slices.Contains(lo.GetFlags(), "loopback") || lo.GetAddresses()[0].GetCidr() != "127.0.0.1/8" {
		t.Errorf("lo = %v", lo)
	}
	br0, veth0, veth1, vx0 := byName["br0"], byName["veth0"], byName["veth1"], byName["vx0"]
	if br0.GetKind() != "bridge" || !slices.Contains(br0.GetFlags(), "up") {
		t.Errorf("br0 = %v", br0)
	}
	var v4, v6 *probev1.Address
	for _, a := range br0.GetAddresses() {
		switch a.GetFamily() {
		case "inet":
			v4 = a
		case "inet6":
			if a.GetScope() == "universe" {
				v6 = a
			}
		}
	}
	if v4.GetCidr() != "192.168.65.3/24" || v4.GetNetmask() != "255.255.255.0" || v4.GetBroadcast() != "192.168.65.255" || v4.GetLabel() != "br0" {
		t.Errorf("br0 IPv4 = %v", v4)
	}
	if v6.GetCidr() != "fd00:65::3/64" || v6.GetPrefixLength() != 64 {
		t.Errorf("br0 IPv6 = %v", v6)
	}
	if a := veth0.GetAddresses(); len(a) == 0 || a[0].GetBroadcast() != "" || a[0].GetLabel() != "veth0:svc" {
		t.Errorf("veth0 addresses = %v, want 10.1.2.1/30 without broadcast", a)
	}
	if veth0.GetKind() != "veth" || veth0.GetPeerIndex() != veth1.GetIndex() || veth0.GetLinkNetnsid() != -1 {
		t.Errorf("veth0 = %v, want peer %d in this namespace", veth0, veth1.GetIndex())
	}
	if veth1.GetMaster() != "br0" || veth1.GetMasterIndex() != br0.GetIndex() {
		t.Errorf("veth1 master = %q (%d)", veth1.GetMaster(), veth1.GetMasterIndex())
	}
	if vx0.GetPeerIndex() == 0 || vx0.GetLinkNetnsid() < 0 {
		t.Errorf("vx0 = %v, want a peer in another namespace", vx0)
	}

	routes, err := h.Routes()
	if err != nil {
		t.Fatalf("Routes: %v", err)
	}
	find := func(table int32, dst string) *probev1.Route {
		for _, r := range routes {
			if r.GetTable() == table && r.GetDestination() == dst {
				return r
			}
		}
		t.Errorf("no route to %s in table %d among %d routes", dst, table, len(routes))
		return nil
	}
	if r := find(254, "default"); r.GetGateway() != "192.168.65.1" || r.GetDevice() != "br0" || r.GetFamily() != "inet" {
		t.Errorf("default route = %v", r)
	}
	if r := find(254, "10.9.0.0/16"); r.GetProtocol() != "static" || r.GetMetric() != 50 {
		t.Errorf("static route = %v", r)
	}
	if r := find(254, "192.168.65.0/24"); r.GetProtocol() != "kernel" || r.GetScope() != "link" || r.GetSource() != "192.168.65.3" {
		t.Errorf("connected route = %v", r)
	}
	if r := find(100, "172.30.0.0/16"); r.GetDevice() != "br0" {
		t.Errorf("table 100 route = %v", r)
	}
	if r := find(255, "192.168.65.3/32"); r.GetType() != "local" || r.GetScope() != "host" {
		t.Errorf("local route = %v", r)
	}
	if r := find(254, "fd00:65::/64"); r.GetFamily() != "inet6" {
		t.Errorf("IPv6 route = %v", r)
	}
}

// TestOpenOwnNamespace reads the test process's own namespace, which needs
// no privilege.
func TestOpenOwnNamespace(t *testing.T) {
	h, err := Open(hostfs.New("/proc"), os.Getpid())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer h.Close()
	ifs, err := h.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) == 0 || ifs[0].GetName() != "lo" {
		t.Errorf("interfaces = %v, want lo first", ifs)
	}
	if _, err := h.Routes(); err != nil {
		t.Fatal(err)
	}
}

// startIn starts a command that ends by exec'ing sleep and returns its pid
// once it has (so it is inside whatever namespace the command set up).
func startIn(tb testing.TB, fsys *hostfs.FS, name string, args ...string) int {
	tb.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitForComm(tb, fsys, cmd.Process.Pid, "sleep")
	return cmd.Process.Pid
}

func waitForComm(t testing.TB, fsys *hostfs.FS, pid int, comm string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := fsys.ReadProcFile(pid, "comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d never became %q", pid, comm)
}

func keys(m map[string]*probev1.Interface) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// BenchmarkOpenAndList measures entering another network namespace and
// dumping it, the probe's real path. Needs root.
func BenchmarkOpenAndList(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		b.Skip("needs unshare(1)")
	}
	fsys := hostfs.New("/proc")
	pid := startIn(b, fsys, unshare, "--net", "sleep", "60")
	b.ReportAllocs()
	for b.Loop() {
		h, err := Open(fsys, pid)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Interfaces(); err != nil {
			b.Fatal(err)
		}
		if _, err := h.Routes(); err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}
