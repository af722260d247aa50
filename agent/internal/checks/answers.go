package checks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/knowledge"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// The checks of issue 13: the problems support tickets are mostly about.
const (
	IDVMDisk          = "vm.disk"
	IDVMClock         = "vm.clock"
	IDNetMTU          = "net.mtu"
	IDNetForwarding   = "net.forwarding"
	IDEngineProxy     = "engine.proxy"
	IDVMMemory        = "vm.memory"
	IDSharesSlowBinds = "shares.slow-binds"
	IDTargetAncestry  = "target.ancestry"
)

// Thresholds of the issue 13 checks.
const (
	DiskWarnPercent  = 85
	DiskErrorPercent = 95
	ClockWarn        = 2 * time.Second
	ClockError       = 30 * time.Second
)

const (
	docDisk    = "https://docs.docker.com/desktop/settings-and-maintenance/settings/#advanced"
	docPrune   = "https://docs.docker.com/engine/manage-resources/pruning/"
	docMTU     = "https://docs.docker.com/engine/network/drivers/bridge/#options"
	docProxy   = "https://docs.docker.com/desktop/settings-and-maintenance/settings/#proxies"
	docMemory  = "https://docs.docker.com/engine/containers/resource_constraints/#memory"
	docWSLPerf = "https://docs.docker.com/desktop/features/wsl/best-practices/"
)

// answerChecks are issue 13's checks, in the order they run.
func answerChecks() []Check {
	return []Check{
		{ID: IDTargetAncestry, Title: "Where dockerd lives: the processes from the VM's pid 1 to it", Requires: []string{IDProbeRan}, DocURL: ownDocs + "targetancestry", Run: ancestry},
		{ID: IDVMDisk, Title: "The VM's disk holding dockerd's data-root has room", Requires: []string{IDProbeRan}, DocURL: docPrune, Run: vmDisk},
		{ID: IDVMClock, Title: "The VM's clock agrees with the host's", DocURL: ownDocs + "vmclock", Run: vmClock},
		{ID: IDNetMTU, Title: "Container packets fit the host's path (MTU)", Requires: []string{IDProbeRan, IDHostRoutes}, DocURL: docMTU, Run: mtu},
		{ID: IDNetForwarding, Title: "IP forwarding is on where dockerd runs", Requires: []string{IDProbeRan}, DocURL: ownDocs + "netforwarding", Run: forwarding},
		{ID: IDEngineProxy, Title: "The engine's proxy matches the host's", DocURL: docProxy, Run: proxy},
		{ID: IDVMMemory, Title: "The VM's memory and containers killed for it", DocURL: docMemory, Run: memory},
		{ID: IDSharesSlowBinds, Title: "Running containers bind-mounting from a host drive share", DocURL: docWSLPerf, Run: slowBinds},
	}
}

// Bytes formats a byte count for people (binary units, as df -h).
func Bytes(b float64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%.0f B", b)
	}
	div, exp := float64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", b/div, "KMGTPE"[exp])
}

func ancestry(rep *probev1.Report) *probev1.Finding {
	steps := rep.GetTarget().GetAncestry()
	if len(steps) == 0 {
		return skip("the probe did not report the target's ancestry (an older probe)")
	}
	var ev, names []string
	for _, s := range steps {
		names = append(names, fmt.Sprintf("%s(%d)", s.GetComm(), s.GetPid()))
		line := fmt.Sprintf("pid %d %s", s.GetPid(), s.GetComm())
		if len(s.GetEnters()) > 0 {
			line += ": enters " + strings.Join(s.GetEnters(), ", ")
		}
		if s.GetError() != "" {
			line += " (could not read: " + s.GetError() + ")"
		}
		ev = append(ev, line)
	}
	if steps[0].GetPid() != 1 {
		ev = append([]string{fmt.Sprintf("the chain starts at pid %d: its parent could not be read", steps[0].GetPid())}, ev...)
	}
	layers := 0
	for _, s := range steps[1:] {
		if len(s.GetEnters()) > 0 {
			layers++
		}
	}
	t := rep.GetTarget()
	sum := fmt.Sprintf("%s; %d step(s) enter new namespaces; the report's VM sections come from %s pid %d's namespaces (net %s, mnt %s)",
		strings.Join(names, " -> "), layers, t.GetComm(), t.GetPid(), t.GetNamespaces()["net"], t.GetNamespaces()["mnt"])
	return finding(Info, sum, ev, "")
}

// holdingMount is the mount of the target's table that holds path: the
// longest mount point that is path or a parent of it (the last such in
// table order, as later mounts cover earlier ones).
func holdingMount(ms []*probev1.Mount, path string) *probev1.Mount {
	var best *probev1.Mount
	for _, m := range ms {
		mp := m.GetMountPoint()
		if mp == path || mp == "/" || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/") {
			if best == nil || len(mp) >= len(best.GetMountPoint()) {
				best = m
			}
		}
	}
	return best
}

func vmDisk(rep *probev1.Report) *probev1.Finding {
	fs := rep.GetVmState().GetDataRoot()
	if fs == nil {
		return skip("the probe did not report the data-root's filesystem")
	}
	if fs.GetError() != "" || fs.GetTotalBytes() <= 0 {
		return skip("the data-root's filesystem could not be measured: "+fs.GetError(), "vmState.dataRoot.path "+fs.GetPath())
	}
	used := fs.GetTotalBytes() - fs.GetFreeBytes()
	pct := 100 * used / (used + fs.GetAvailableBytes())
	ev := []string{fmt.Sprintf("data-root %s: %s used of %s, %s available (%.0f%%)", fs.GetPath(), Bytes(used), Bytes(fs.GetTotalBytes()), Bytes(fs.GetAvailableBytes()), pct)}
	worst, what := pct, "space"
	if ti := fs.GetTotalInodes(); ti > 0 {
		ipct := 100 * (ti - fs.GetFreeInodes()) / ti
		ev = append(ev, fmt.Sprintf("inodes: %.0f used of %.0f (%.0f%%)", ti-fs.GetFreeInodes(), ti, ipct))
		if ipct > worst {
			worst, what = ipct, "inodes"
		}
	}
	if m := holdingMount(rep.GetMounts(), fs.GetPath()); m != nil {
		ev = append(ev, fmt.Sprintf("mount %d %s: %s %s", m.GetId(), m.GetMountPoint(), m.GetFsType(), m.GetSource()))
	}
	u := rep.GetEngineUsage()
	switch {
	case u == nil:
	case u.GetDfMeasured():
		ev = append(ev, fmt.Sprintf("engine: images %s (%s reclaimable), build cache %s (%s reclaimable), containers %s, volumes %s",
			Bytes(u.GetImagesBytes()), Bytes(u.GetImagesReclaimableBytes()), Bytes(u.GetBuildCacheBytes()), Bytes(u.GetBuildCacheReclaimableBytes()),
			Bytes(u.GetContainersBytes()), Bytes(u.GetVolumesBytes())))
	default:
		ev = append(ev, "engine disk usage "+u.GetDfError())
	}
	fix := "free space: `docker builder prune` (build cache), `docker image prune -a`, `docker system prune`; on Docker Desktop raise the disk limit (Settings > Resources > Advanced)"
	sev := OK
	switch {
	case worst >= DiskErrorPercent:
		sev = Error
	case worst >= DiskWarnPercent:
		sev = Warning
	default:
		fix = ""
	}
	if sev == OK {
		return finding(OK, fmt.Sprintf("the data-root's filesystem is %.0f%% full", worst), ev, "")
	}
	return finding(sev, fmt.Sprintf("the data-root's filesystem is %.0f%% full (%s): pulls, builds and container writes fail when it fills", worst, what), ev, fix)
}

// ClockOffset is how far a remote clock is from the agent's: the remote's
// time minus the midpoint of the agent's asked and answered times, and
// the uncertainty (half the round trip).
func ClockOffset(c *probev1.ClockReading) (offset, uncertainty time.Duration, ok bool) {
	if c.GetRemote() == nil || c.GetAsked() == nil || c.GetAnswered() == nil {
		return 0, 0, false
	}
	a, b := c.GetAsked().AsTime(), c.GetAnswered().AsTime()
	rtt := b.Sub(a)
	mid := a.Add(rtt / 2)
	return c.GetRemote().AsTime().Sub(mid), rtt / 2, true
}

func vmClock(rep *probev1.Report) *probev1.Finding {
	var ev []string
	var worst time.Duration
	n := 0
	for _, r := range []struct {
		what string
		c    *probev1.ClockReading
	}{{"engine (/info SystemTime)", rep.GetEngine().GetClock()}, {"probe (in the VM)", rep.GetProbeClock()}} {
		off, unc, ok := ClockOffset(r.c)
		if !ok {
			if r.c.GetError() != "" {
				ev = append(ev, r.what+": "+r.c.GetError())
			}
			continue
		}
		n++
		ev = append(ev, fmt.Sprintf("%s: %+.3fs from the host's clock (±%.3fs, half the round trip)", r.what, off.Seconds(), unc.Seconds()))
		// Only what the round trip cannot explain counts.
		d := max(off.Abs()-unc, 0)
		worst = max(worst, d)
	}
	if n == 0 {
		return skip("no clock reading from the engine or the probe", ev...)
	}
	fix := "resync the VM's clock: on Windows `wsl --shutdown` then start Docker Desktop again; on macOS restart Docker Desktop (the VM's clock drifts when the host sleeps)"
	switch {
	case worst > ClockError:
		return finding(Error, fmt.Sprintf("the VM's clock is %s off the host's: TLS (\"certificate is not yet valid\"), apt and builds fail", worst.Round(time.Second)), ev, fix)
	case worst > ClockWarn:
		return finding(Warning, fmt.Sprintf("the VM's clock is %s off the host's", worst.Round(100*time.Millisecond)), ev, fix)
	}
	return finding(OK, "the VM's clock agrees with the host's (within "+ClockWarn.String()+")", ev, "")
}

// hostDefaultInterface is the host interface that carries its IPv4
// default route (the lowest metric), with the route.
func hostDefaultInterface(h *probev1.Host) (*probev1.Interface, *probev1.Route) {
	var best *probev1.Route
	for _, r := range h.GetRoutes() {
		d := r.GetDestination()
		if (d == "default" || d == "0.0.0.0/0") && r.GetDevice() != "" && (best == nil || r.GetMetric() < best.GetMetric()) {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	for _, i := range h.GetInterfaces() {
		if i.GetName() == best.GetDevice() {
			return i, best
		}
	}
	return nil, best
}

func mtu(rep *probev1.Report) *probev1.Finding {
	hi, hr := hostDefaultInterface(rep.GetHost())
	if hr == nil {
		return skip("the host has no IPv4 default route: no path to compare with")
	}
	if hi == nil || hi.GetMtu() <= 0 {
		return skip("the MTU of the host's default-route interface " + hr.GetDevice() + " is unknown")
	}
	hostMTU := hi.GetMtu()
	ev := []string{fmt.Sprintf("host default route via %s dev %s: MTU %d", hr.GetGateway(), hr.GetDevice(), hostMTU)}
	var over []string
	for _, i := range rep.GetInterfaces() {
		role := i.GetRole()
		if i.GetName() != "eth0" && role != knowledge.RoleVM && role != knowledge.RoleBridge && role != knowledge.RoleKubePods {
			continue
		}
		ev = append(ev, fmt.Sprintf("VM %s: MTU %d", i.GetName(), i.GetMtu()))
		if i.GetMtu() > hostMTU {
			over = append(over, fmt.Sprintf("%s (%d)", i.GetName(), i.GetMtu()))
		}
	}
	for _, n := range rep.GetEngine().GetNetworks() {
		if v := n.GetOptions()["com.docker.network.driver.mtu"]; v != "" {
			ev = append(ev, fmt.Sprintf("network %q com.docker.network.driver.mtu %s", n.GetName(), v))
			if m, err := strconv.Atoi(v); err == nil && int32(m) > hostMTU && !slices.ContainsFunc(over, func(s string) bool { return strings.HasPrefix(s, knowledge.BridgeName(n)+" ") }) {
				over = append(over, fmt.Sprintf("network %s (%d)", n.GetName(), m))
			}
		}
	}
	if len(over) == 0 {
		return finding(OK, fmt.Sprintf("no VM interface or Docker bridge has an MTU above the host path's %d", hostMTU), ev, "")
	}
	return finding(Warning, fmt.Sprintf("%s: containers may send packets larger than the host path's MTU %d (a VPN lowers it); large transfers and TLS handshakes then stall", strings.Join(over, ", "), hostMTU), ev,
		fmt.Sprintf("set \"mtu\": %d in daemon.json (the default bridge) and create networks with -o com.docker.network.driver.mtu=%d, or lower the VPN's MTU requirements", hostMTU, hostMTU))
}

func forwarding(rep *probev1.Report) *probev1.Finding {
	f := rep.GetVmState().GetForwarding()
	if f == nil || (f.GetIpv4() == "" && f.GetError() != "") {
		return skip("the forwarding sysctls could not be read: " + f.GetError())
	}
	ev := []string{"net.ipv4.ip_forward = " + f.GetIpv4()}
	var v6nets []string
	for _, n := range rep.GetEngine().GetNetworks() {
		if n.GetEnableIpv6() {
			v6nets = append(v6nets, n.GetName())
		}
	}
	if f.GetIpv6Enabled() {
		ev = append(ev, "net.ipv6.conf.all.forwarding = "+f.GetIpv6())
	} else {
		ev = append(ev, "IPv6 is off in dockerd's network namespace")
	}
	fix := "turn forwarding back on (`sysctl -w net.ipv4.ip_forward=1`, and net.ipv6.conf.all.forwarding=1 for IPv6) and find what turned it off (a VPN client, a security agent, dockerd's --ip-forward=false); restarting Docker Desktop restores it"
	if f.GetIpv4() == "0" {
		return finding(Error, "IPv4 forwarding is off in dockerd's network namespace: no container reaches anything outside the VM", ev, fix)
	}
	if f.GetIpv6Enabled() && f.GetIpv6() == "0" && len(v6nets) > 0 {
		ev = append(ev, "IPv6 networks: "+strings.Join(v6nets, ", "))
		return finding(Error, "IPv6 forwarding is off while Docker networks use IPv6: their containers reach nothing outside over IPv6", ev, fix)
	}
	return finding(OK, "IP forwarding is on", ev, "")
}

// noProxyCovers reports whether a NO_PROXY list exempts host, or, when
// host is a prefix, the whole subnet.
func noProxyCovers(list, host string) bool {
	sub, isPrefix := knowledge.ParsePrefix(host)
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			return true
		}
		if isPrefix {
			if p, ok := knowledge.ParsePrefix(e); ok && p.Bits() <= sub.Bits() && p.Contains(sub.Addr()) {
				return true
			}
			continue
		}
		e = strings.TrimPrefix(e, "*")
		if e == host || (strings.HasPrefix(e, ".") && strings.HasSuffix(host, e)) {
			return true
		}
	}
	return false
}

func proxy(rep *probev1.Report) *probev1.Finding {
	e := rep.GetEngine()
	var ev []string
	var hostProxy *probev1.ProxySetting
	for _, p := range rep.GetHost().GetProxies() {
		ev = append(ev, fmt.Sprintf("host %s: HTTP_PROXY=%s HTTPS_PROXY=%s NO_PROXY=%s", p.GetSource(), p.GetHttpProxy(), p.GetHttpsProxy(), p.GetNoProxy()))
		if hostProxy == nil && (p.GetHttpProxy() != "" || p.GetHttpsProxy() != "") {
			hostProxy = p
		}
	}
	engineHas := e.GetHttpProxy() != "" || e.GetHttpsProxy() != ""
	ev = append(ev, fmt.Sprintf("engine: HTTP_PROXY=%s HTTPS_PROXY=%s NO_PROXY=%s", e.GetHttpProxy(), e.GetHttpsProxy(), e.GetNoProxy()))
	if hostProxy != nil && !engineHas {
		return finding(Warning, "the host uses a proxy ("+hostProxy.GetSource()+") but the engine does not: pulls and builds go direct and may be blocked", ev,
			"Docker Desktop: Settings > Resources > Proxies (or \"use system proxy\"); dockerd: \"proxies\" in daemon.json or HTTP(S)_PROXY in its service environment")
	}
	if !engineHas {
		return finding(OK, "no proxy on the host or the engine", ev, "")
	}
	var missing []string
	if knowledge.DesktopShaped(rep) && !noProxyCovers(e.GetNoProxy(), "host.docker.internal") {
		missing = append(missing, "host.docker.internal")
	}
	if s := rep.GetKnowledge().GetDockerSubnet().GetSubnet(); s != "" && knowledge.DesktopShaped(rep) && !noProxyCovers(e.GetNoProxy(), s) {
		missing = append(missing, s)
	}
	if len(missing) > 0 {
		return finding(Warning, "the engine's NO_PROXY lacks "+strings.Join(missing, " and ")+": traffic to the host and the VM goes to the proxy", ev,
			"add "+strings.Join(missing, ",")+" to NO_PROXY (Docker Desktop: Settings > Resources > Proxies, \"Bypass proxy settings for these hosts\")")
	}
	return finding(OK, "the engine uses a proxy and exempts the host and the VM", ev, "")
}

func memory(rep *probev1.Report) *probev1.Finding {
	m := rep.GetVmState().GetMemory()
	u := rep.GetEngineUsage()
	if m == nil && u == nil {
		return skip("neither the VM's memory nor the engine's containers were read")
	}
	var ev []string
	if m.GetTotalBytes() > 0 {
		ev = append(ev, fmt.Sprintf("VM memory %s, %s available (%.0f%%)", Bytes(m.GetTotalBytes()), Bytes(m.GetAvailableBytes()), 100*m.GetAvailableBytes()/m.GetTotalBytes()))
	}
	if m.GetError() != "" {
		ev = append(ev, "VM memory: "+m.GetError())
	}
	if k := m.GetOomKills(); k >= 0 && m != nil {
		ev = append(ev, fmt.Sprintf("kernel oom_kill %.0f since the VM booted", k))
	}
	for _, c := range u.GetOomKilled() {
		limit := "no memory limit (the VM ran out)"
		if c.GetMemoryLimitBytes() > 0 {
			limit = "limit " + Bytes(c.GetMemoryLimitBytes())
		}
		ev = append(ev, fmt.Sprintf("container %s (image %s, %s) OOMKilled, %s", c.GetName(), c.GetImage(), c.GetState(), limit))
	}
	if u.GetError() != "" {
		ev = append(ev, "engine: "+u.GetError())
	}
	if n := len(u.GetOomKilled()); n > 0 {
		return finding(Warning, fmt.Sprintf("%d container(s) were killed for memory (OOMKilled)", n), ev,
			"raise the container's --memory limit, or the VM's memory (Docker Desktop: Settings > Resources > Memory; WSL 2: memory= in %UserProfile%\\.wslconfig)")
	}
	if m.GetOomKills() > 0 {
		return finding(Info, fmt.Sprintf("the kernel killed %.0f process(es) for memory since the VM booted, none of a container the engine still has", m.GetOomKills()), ev, "")
	}
	return finding(OK, "no container was killed for memory", ev, "")
}

func slowBinds(rep *probev1.Report) *probev1.Finding {
	u := rep.GetEngineUsage()
	if u == nil {
		return skip("the engine's containers were not listed")
	}
	var ev []string
	for _, b := range u.GetShareBinds() {
		ev = append(ev, fmt.Sprintf("container %s (image %s) binds %s at %s", b.GetName(), b.GetImage(), b.GetSource(), b.GetDestination()))
	}
	if len(ev) == 0 {
		return finding(OK, "no running container bind-mounts from a host drive share", nil, "")
	}
	return finding(Info, fmt.Sprintf("%d bind mount(s) from a host drive share: every file access crosses from the VM to the host (slow for builds, node_modules, databases)", len(ev)), ev,
		"keep the project in the WSL file system (\\\\wsl$\\<distro>\\home\\...) or a named volume and bind-mount it from there")
}
