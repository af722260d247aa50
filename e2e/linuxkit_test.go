package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/proto/probe/v1/contract"
)

// The source article's LinuxKit values: what `ifconfig` shows inside the VM.
var wantInterfaces = []struct {
	name, kind, cidr, broadcast string
}{
	{"eth0", "veth", "192.168.65.3/24", "192.168.65.255"},
	{"services1", "veth", "192.168.65.6/32", ""},
	{"cni0", "bridge", "10.1.0.1/16", "10.1.255.255"},
	{"docker0", "bridge", "172.17.0.1/16", "172.17.255.255"},
	{"lo", "device", "127.0.0.1/8", ""},
}

// dockerd's flags as `ps` shows them in LinuxKit, in order.
var wantFlags = [][2]string{
	{"config-file", "/run/config/docker/daemon.json"},
	{"containerd", "/run/containerd/containerd.sock"},
	{"pidfile", "/run/desktop/docker.pid"},
	{"swarm-default-advertise-addr", "192.168.65.3"},
	{"host-gateway-ip", "192.168.65.254"},
}

func TestLinuxKitReportHoldsTheContract(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		_, raw := probeJSON(t, e.Host)
		if err := contract.Check(raw); err != nil {
			t.Fatalf("JSON contract: %v", err)
		}
	})
}

func TestLinuxKitTargetIsTheEnginesDockerd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		doc, _ := probeJSON(t, e.Host)
		wantPID := e.Env["LK_DOCKERD_PID"]
		if got := str(num(doc, "target", "pid")); got != wantPID {
			t.Errorf(".target.pid = %s, want %s (the LinuxKit-shaped dockerd; the machine's own dockerd runs too)", got, wantPID)
		}
		if got := str(num(doc, "daemon", "pid")); got != wantPID {
			t.Errorf(".daemon.pid = %s, want %s", got, wantPID)
		}
		if m := get(doc, "target", "method"); m != "data-root" {
			t.Errorf(".target.method = %v, want data-root (reason: %v)", m, get(doc, "target", "reason"))
		}
		if errs := list(doc, "errors"); len(errs) != 0 {
			t.Errorf(".errors = %v, want none", errs)
		}
	})
}

func TestLinuxKitInterfaces(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		doc, _ := probeJSON(t, e.Host)
		byName := map[string]map[string]any{}
		for _, it := range list(doc, "interfaces") {
			m := it.(map[string]any)
			byName[m["name"].(string)] = m
		}
		for _, w := range wantInterfaces {
			it, ok := byName[w.name]
			if !ok {
				t.Errorf("interface %s missing; have %v", w.name, keys(byName))
				continue
			}
			if it["kind"] != w.kind {
				t.Errorf("%s kind = %v, want %s", w.name, it["kind"], w.kind)
			}
			found := false
			for _, a := range it["addresses"].([]any) {
				am := a.(map[string]any)
				if am["cidr"] == w.cidr {
					found = true
					if am["broadcast"] != w.broadcast {
						t.Errorf("%s %s broadcast = %q, want %q", w.name, w.cidr, am["broadcast"], w.broadcast)
					}
				}
			}
			if !found {
				t.Errorf("%s has no address %s: %v", w.name, w.cidr, it["addresses"])
			}
		}
		if eth0, ok := byName["eth0"]; ok && num(eth0, "mtu") <= 0 {
			t.Errorf("eth0 mtu = %v", eth0["mtu"])
		}
		// The default route of the VM goes to the host through eth0.
		found := false
		for _, r := range list(doc, "routes") {
			rm := r.(map[string]any)
			if rm["destination"] == "default" && rm["gateway"] == "192.168.65.1" && rm["device"] == "eth0" {
				found = true
			}
		}
		if !found {
			t.Errorf("no default route via 192.168.65.1 dev eth0 in .routes")
		}
	})
}

func TestLinuxKitDaemonFlagsAndConfig(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		doc, _ := probeJSON(t, e.Host)
		var flags [][2]string
		for _, f := range list(doc, "daemon", "flags") {
			fm := f.(map[string]any)
			flags = append(flags, [2]string{fm["name"].(string), fm["value"].(string)})
		}
		if len(flags) < len(wantFlags) || !slices.Equal(flags[:len(wantFlags)], wantFlags) {
			t.Errorf(".daemon.flags starts with %v, want %v", flags, wantFlags)
		}
		argv := list(doc, "daemon", "argv")
		if len(argv) < 11 || !strings.HasSuffix(argv[0].(string), "dockerd") {
			t.Errorf(".daemon.argv = %v", argv)
		}
		if got := get(doc, "daemon", "configFile"); got != "/run/config/docker/daemon.json" {
			t.Errorf(".daemon.configFile = %v", got)
		}
		cfg, ok := get(doc, "daemon", "config").(map[string]any)
		if !ok {
			t.Fatalf(".daemon.config = %v, want the parsed daemon.json object", get(doc, "daemon", "config"))
		}
		if _, ok := cfg["builder"]; !ok {
			t.Errorf(".daemon.config has no builder key: %v", cfg)
		}
		if got := get(doc, "daemon", "dataRoot"); got != e.Env["LK_STATE"]+"/docker" {
			t.Errorf(".daemon.dataRoot = %v, want %s/docker", got, e.Env["LK_STATE"])
		}
	})
}

func TestLinuxKitHostShares(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		doc, _ := probeJSON(t, e.Host)
		mounts := map[string]map[string]any{}
		for _, m := range list(doc, "mounts") {
			mm := m.(map[string]any)
			mounts[mm["mountPoint"].(string)] = mm
		}
		for _, drive := range []string{"c", "d", "wsl", "wslg"} {
			desktop, ok1 := mounts["/run/desktop/mnt/host/"+drive]
			plain, ok2 := mounts["/mnt/host/"+drive]
			if !ok1 || !ok2 {
				t.Errorf("drive %s: /run/desktop/mnt/host/%s present=%v, /mnt/host/%s present=%v", drive, drive, ok1, drive, ok2)
				continue
			}
			if desktop["propagation"] != "shared" {
				t.Errorf("/run/desktop/mnt/host/%s propagation = %v, want shared", drive, desktop["propagation"])
			}
			if plain["propagation"] != "private" {
				t.Errorf("/mnt/host/%s propagation = %v, want private", drive, plain["propagation"])
			}
			// Same filesystem and root, different mounts: the article's puzzle.
			if desktop["root"] != plain["root"] || desktop["majorMinor"] != plain["majorMinor"] || desktop["fsType"] != plain["fsType"] {
				t.Errorf("drive %s: the two paths differ in root/device/fs: %v vs %v", drive, desktop, plain)
			}
			if desktop["id"] == plain["id"] {
				t.Errorf("drive %s: both paths have mount id %v", drive, desktop["id"])
			}
			if !strings.HasSuffix(desktop["root"].(string), "/drives/"+drive) {
				t.Errorf("/run/desktop/mnt/host/%s root = %v", drive, desktop["root"])
			}
		}
	})
}

func TestLinuxKitNetworksAndHostGateway(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		doc, _ := probeJSON(t, e.Host)
		if got := get(doc, "engine", "hostGatewayIp"); got != "192.168.65.254" {
			t.Errorf(".engine.hostGatewayIp = %v, want 192.168.65.254", got)
		}
		if got := get(doc, "engine", "apiVersion"); got == "" {
			t.Errorf(".engine.apiVersion is empty")
		}
		nets := networks(doc)
		if got := nets["bridge"]; got.subnet != "172.17.0.0/16" || got.driver != "bridge" || got.bridge != "docker0" {
			t.Errorf("bridge network = %+v, want 172.17.0.0/16 on docker0", got)
		}
		for _, n := range []string{"host", "none"} {
			if _, ok := nets[n]; !ok {
				t.Errorf("network %s missing", n)
			}
		}

		// A new bridge network takes the next range.
		name := fmt.Sprintf("e2e-net-%d", time.Now().UnixNano())
		id := docker(t, e.Host, "network", "create", name)
		t.Cleanup(func() { exec.Command("docker", "-H", e.Host, "network", "rm", name).Run() })
		doc, _ = probeJSON(t, e.Host)
		got := networks(doc)[name]
		if got.subnet != "172.18.0.0/16" || got.gateway != "172.18.0.1" {
			t.Errorf("new network %s = %+v, want 172.18.0.0/16 gateway 172.18.0.1", name, got)
		}
		wantBridge := "br-" + id[:12]
		if got.bridge != wantBridge {
			t.Errorf("new network bridge = %q, want %q", got.bridge, wantBridge)
		}
		found := false
		for _, it := range list(doc, "interfaces") {
			m := it.(map[string]any)
			if m["name"] == wantBridge {
				found = m["kind"] == "bridge"
			}
		}
		if !found {
			t.Errorf("the probe does not see bridge %s in the VM's interfaces", wantBridge)
		}
	})
}

func TestLinuxKitTextReportReadsLikeTheArticle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		r := agent(t, e.Host, "probe")
		if r.code != 0 {
			t.Fatalf("agent probe exited %d: %s", r.code, r.stderr)
		}
		for _, line := range []string{
			"[cni0] inet addr:10.1.0.1 Bcast:10.1.255.255 Mask:255.255.0.0",
			"[docker0] inet addr:172.17.0.1 Bcast:172.17.255.255 Mask:255.255.0.0",
			"[eth0] inet addr:192.168.65.3 Bcast:192.168.65.255 Mask:255.255.255.0",
			"[lo] inet addr:127.0.0.1 Mask:255.0.0.0",
			"[services1] inet addr:192.168.65.6 Bcast:0.0.0.0 Mask:255.255.255.255",
			"192.168.65.254",
			"/run/desktop/mnt/host/c",
			"--host-gateway-ip",
		} {
			if !strings.Contains(r.stdout, line) {
				t.Errorf("text report lacks %q", line)
			}
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("text report written to a pipe contains ANSI escapes")
		}
	})
}

func TestTargetPIDOverride(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		pid := e.Env["LK_CONTAINERD_PID"]
		doc, _ := probeJSON(t, e.Host, "--target-pid", pid)
		if got := str(num(doc, "target", "pid")); got != pid {
			t.Errorf(".target.pid = %s, want %s", got, pid)
		}
		if m := get(doc, "target", "method"); m != "override" {
			t.Errorf(".target.method = %v, want override", m)
		}
	})
}

// TestNoProbeLeftBehind: every probe container of the runs of the tests
// before it (fastpath, findings and the ones above) must be gone, on each
// engine and on the machine's own.
func TestNoProbeLeftBehind(t *testing.T) {
	none := func(t *testing.T, host string) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out := docker(t, host, "ps", "-a", "-q", "--filter", "label=io.dockprobe.probe")
			if out == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe containers left on %s after 10s: %s", host, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	forEachEngine(t, func(t *testing.T, e *engineEnv) { none(t, e.Host) })
	if systemEngineUp() {
		t.Run("system", func(t *testing.T) { none(t, systemHost) })
	}
}

type netInfo struct{ driver, subnet, gateway, bridge string }

func networks(doc map[string]any) map[string]netInfo {
	out := map[string]netInfo{}
	for _, n := range list(doc, "engine", "networks") {
		nm := n.(map[string]any)
		ni := netInfo{driver: nm["driver"].(string), bridge: nm["bridge"].(string)}
		if subs, _ := nm["subnets"].([]any); len(subs) > 0 {
			s := subs[0].(map[string]any)
			ni.subnet, ni.gateway = s["subnet"].(string), s["gateway"].(string)
		}
		out[nm["name"].(string)] = ni
	}
	return out
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func list(m map[string]any, path ...string) []any {
	l, _ := get(m, path...).([]any)
	return l
}

func num(m map[string]any, path ...string) float64 {
	f, _ := get(m, path...).(float64)
	return f
}

func str(f float64) string { return strconv.FormatInt(int64(f), 10) }

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
