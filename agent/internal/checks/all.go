package checks

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/dockprobe/dockprobe/agent/internal/knowledge"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Documentation links.
const (
	docNetworking = "https://docs.docker.com/desktop/features/networking/"
	docSettings   = "https://docs.docker.com/desktop/settings-and-maintenance/settings/#network"
	docDaemon     = "https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file"
	docPools      = "https://docs.docker.com/reference/cli/dockerd/#default-address-pools"
	docHostGW     = "https://docs.docker.com/reference/cli/docker/container/run/#add-host"
	docHostPath   = "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath"
	docECI        = "https://docs.docker.com/enterprise/security/hardened-desktop/enhanced-container-isolation/"
	docRootless   = "https://docs.docker.com/engine/security/rootless/"
	ownDocs       = "https://github.com/dockprobe/dockprobe/blob/main/docs/findings.md#"
)

// Check IDs. Never renamed or reused.
const (
	IDProbeRan          = "probe.ran"
	IDProbeSections     = "probe.sections"
	IDDaemonFound       = "daemon.found"
	IDDaemonConfigJSON  = "daemon.config-json"
	IDDaemonConflicts   = "daemon.config-conflicts"
	IDDaemonUnknownKeys = "daemon.config-unknown-keys"
	IDDaemonDefaults    = "daemon.desktop-defaults"
	IDDaemonEffective   = "daemon.effective-config"
	IDNetRoles          = "net.interface-roles"
	IDNetSubnet         = "net.docker-subnet"
	IDHostRoutes        = "host.routes"
	IDNetOverlap        = "net.host-overlap"
	IDNetNextSubnet     = "net.next-subnet"
	IDNetKubernetes     = "net.kubernetes"
	IDNamesHostGateway  = "names.host-gateway"
	IDNamesSpecial      = "names.special"
	IDSharesHostPath    = "shares.k8s-hostpath"
)

// All returns every check in the order they run.
func All() []Check {
	return append([]Check{
		{ID: IDProbeRan, Title: "The probe ran inside the engine's VM", DocURL: ownDocs + "proberan", Run: probeRan},
		{ID: IDProbeSections, Title: "Every section of the report was collected", Requires: []string{IDProbeRan}, Run: probeSections},
		{ID: IDDaemonFound, Title: "dockerd was found", Requires: []string{IDProbeRan}, Run: daemonFound},
		{ID: IDDaemonConfigJSON, Title: "dockerd's config file is valid JSON", Requires: []string{IDDaemonFound}, DocURL: docDaemon, Run: configJSON},
		{ID: IDDaemonConflicts, Title: "No setting is given both as a flag and in the config file", Requires: []string{IDDaemonConfigJSON}, DocURL: docDaemon, Run: configConflicts},
		{ID: IDDaemonUnknownKeys, Title: "Every config file key is one dockerd knows", Requires: []string{IDDaemonConfigJSON}, DocURL: docDaemon, Run: unknownKeys},
		{ID: IDDaemonEffective, Title: "dockerd's effective configuration and where each value comes from", Requires: []string{IDDaemonConfigJSON}, DocURL: docDaemon, Run: effectiveConfig},
		{ID: IDDaemonDefaults, Title: "dockerd's flags against Docker Desktop's defaults", Requires: []string{IDDaemonFound}, Run: desktopDefaults},
		{ID: IDNetRoles, Title: "Every interface in the VM has a known role", Requires: []string{IDProbeRan}, DocURL: docNetworking, Run: interfaceRoles},
		{ID: IDNetSubnet, Title: "The Docker subnet", Requires: []string{IDProbeRan}, DocURL: docSettings, Run: dockerSubnet},
		{ID: IDHostRoutes, Title: "The host's routes were read", Run: hostRoutes},
		{ID: IDNetOverlap, Title: "No Docker range overlaps a host route", Requires: []string{IDHostRoutes}, DocURL: docPools, Run: hostOverlap},
		{ID: IDNetNextSubnet, Title: "The subnet the next `docker network create` gets", DocURL: docPools, Run: nextSubnet},
		{ID: IDNetKubernetes, Title: "Kubernetes pod network (cni0)", Requires: []string{IDProbeRan}, Run: kubernetes},
		{ID: IDNamesHostGateway, Title: "host-gateway matches --host-gateway-ip", Requires: []string{IDProbeRan}, DocURL: docHostGW, Run: hostGateway},
		{ID: IDNamesSpecial, Title: "host.docker.internal and friends", Requires: []string{IDProbeRan}, DocURL: docNetworking, Run: specialNames},
		{ID: IDSharesHostPath, Title: "Which host-share path Kubernetes hostPath must use", Requires: []string{IDProbeRan}, DocURL: docHostPath, Run: sharesHostPath},
	}, answerChecks()...)
}

func probeError(rep *probev1.Report) *probev1.SectionError {
	for _, e := range rep.GetErrors() {
		if e.GetSection() == "probe" {
			return e
		}
	}
	return nil
}

// Classify names why the probe could not run, with what to do, from its
// error and the engine's facts.
func Classify(msg string, e *probev1.Engine) (cause, fix, doc string) {
	lm := strings.ToLower(msg)
	switch {
	case strings.Contains(lm, "sysbox") || strings.Contains(lm, "can't share namespaces"):
		return "Enhanced Container Isolation forbids the probe's --pid=host",
			"ask your administrator to exempt the probe image (ECI's image exceptions) or run without ECI; the report below holds only what the engine's API shows", docECI
	case strings.Contains(lm, "windows containers"):
		return "the engine runs Windows containers", "switch Docker Desktop to Linux containers (whale icon > Switch to Linux containers) and retry", ""
	case slices.ContainsFunc(e.GetSecurityOptions(), func(s string) bool { return strings.Contains(s, "rootless") }):
		return "the engine is rootless: the probe cannot see the real host's namespaces",
			"run the agent against a rootful engine to see the VM or host; a rootless engine's own namespaces are all the probe can show", docRootless
	case strings.Contains(lm, "permission denied"):
		return "permission denied", "run as a user allowed to use the engine (the docker group, or an administrator on Windows)", ""
	}
	return "the probe could not run", "run again with --debug to see the engine's answer", ""
}

func probeRan(rep *probev1.Report) *probev1.Finding {
	if e := probeError(rep); e != nil {
		cause, fix, doc := Classify(e.GetMessage(), rep.GetEngine())
		f := finding(Error, "the probe did not run: "+cause+" (reduced report: engine API only)", []string{"errors[probe]: " + e.GetMessage()}, fix)
		f.DocUrl = doc
		return f
	}
	if rep.GetTarget() == nil && len(rep.GetInterfaces()) == 0 {
		return finding(Error, "the report holds nothing from the probe", nil, "run `agent probe --debug`")
	}
	ev := []string{fmt.Sprintf("target pid %d (%s): %s", rep.GetTarget().GetPid(), rep.GetTarget().GetMethod(), rep.GetTarget().GetReason())}
	return finding(OK, "the probe ran", ev, "")
}

func probeSections(rep *probev1.Report) *probev1.Finding {
	var ev []string
	for _, e := range rep.GetErrors() {
		ev = append(ev, fmt.Sprintf("errors[%s] %s: %s", e.GetSection(), e.GetCode(), e.GetMessage()))
	}
	if len(ev) > 0 {
		return finding(Warning, fmt.Sprintf("%d section(s) could not be collected", len(ev)), ev, "see each error; run with --debug for details")
	}
	return finding(OK, "every section was collected", nil, "")
}

// containerdHost reports whether the probe targeted containerd because no
// dockerd serves the engine (nerdctl hosts: Rancher Desktop, Lima, Finch).
// dockerd's checks (its JSON config, its flags, host-gateway, its address
// pools) do not apply there and are skipped, not failed.
func containerdHost(rep *probev1.Report) bool {
	return rep.GetTarget().GetMethod() == "containerd-daemon"
}

func daemonFound(rep *probev1.Report) *probev1.Finding {
	d := rep.GetDaemon()
	if containerdHost(rep) {
		return skip(fmt.Sprintf("the engine is containerd pid %d, not dockerd: dockerd's checks do not apply", d.GetPid()),
			"target method containerd-daemon", "daemon.argv "+strings.Join(d.GetArgv(), " "))
	}
	if !d.GetFound() {
		return finding(Error, "no dockerd was found among the processes the probe sees", []string{"daemon.found false", "target method " + rep.GetTarget().GetMethod()},
			"the engine may not be dockerd (e.g. Podman) or the probe lacks --pid=host; try --target-pid")
	}
	return finding(OK, fmt.Sprintf("dockerd pid %d", d.GetPid()), []string{"daemon.argv " + strings.Join(d.GetArgv(), " ")}, "")
}

func configJSON(rep *probev1.Report) *probev1.Finding {
	d := rep.GetDaemon()
	ev := []string{fmt.Sprintf("daemon.configFile %s (%s)", d.GetConfigFile(), d.GetConfigFileSource())}
	switch {
	case d.GetConfigError() != "" && d.GetConfig() == nil && d.GetConfigRaw() != "":
		return finding(Error, "dockerd's config file is not valid JSON: dockerd will refuse to start with it",
			append(ev, "daemon.configError "+d.GetConfigError()), "fix the JSON at the place the error quotes (Docker Desktop: Settings > Docker Engine), then restart the engine")
	case d.GetConfigError() != "":
		return finding(Error, "dockerd's config file cannot be used: "+d.GetConfigError(), append(ev, "daemon.configError "+d.GetConfigError()),
			"make the file one JSON object, then restart the engine")
	case !d.GetConfigFileExists():
		return finding(OK, "no config file: dockerd uses its flags and defaults", ev, "")
	}
	return finding(OK, "the config file is valid JSON", ev, "")
}

func configConflicts(rep *probev1.Report) *probev1.Finding {
	c := knowledge.Conflicts(rep.GetDaemon())
	if len(c) == 0 {
		return finding(OK, "no setting is given both ways", nil, "")
	}
	var ev []string
	for _, k := range c {
		ev = append(ev, fmt.Sprintf("flag --%s and key %q in %s", k, k, rep.GetDaemon().GetConfigFile()))
	}
	return finding(Error, "settings given both as a flag and in the config file: "+strings.Join(c, ", ")+"; dockerd refuses to start that way",
		ev, "remove each from one of the two places (Docker Desktop sets the flags; edit Settings > Docker Engine)")
}

func unknownKeys(rep *probev1.Report) *probev1.Finding {
	u := knowledge.UnknownKeys(rep.GetDaemon())
	if len(u) == 0 {
		return finding(OK, "every key is one dockerd knows", nil, "")
	}
	var ev, names []string
	for _, k := range u {
		names = append(names, k.Key)
		line := fmt.Sprintf("key %q in %s", k.Key, rep.GetDaemon().GetConfigFile())
		if k.Suggestion != "" {
			line += fmt.Sprintf(" (did you mean %q?)", k.Suggestion)
		}
		ev = append(ev, line)
	}
	return finding(Error, "unknown config keys "+strings.Join(names, ", ")+": dockerd refuses to start with them (it may have been edited since dockerd started)",
		ev, "rename or remove each key (see the suggestions), then restart the engine")
}

func effectiveConfig(rep *probev1.Report) *probev1.Finding {
	var ev []string
	n := map[string]int{}
	for _, v := range rep.GetKnowledge().GetEffectiveConfig() {
		n[v.GetSource()]++
		ev = append(ev, fmt.Sprintf("%s = %s (%s: %s)", v.GetKey(), v.GetValue(), v.GetSource(), v.GetOrigin()))
	}
	return finding(Info, fmt.Sprintf("%d settings: %d from flags, %d from %s; every other setting is dockerd's default",
		len(ev), n["flag"], n["config"], rep.GetDaemon().GetConfigFile()), ev, "")
}

// isDesktop reports whether the engine looks like Docker Desktop's.
func isDesktop(rep *probev1.Report) bool {
	if strings.Contains(rep.GetEngine().GetOs(), "Docker Desktop") {
		return true
	}
	v, _ := knowledge.FlagValue(rep.GetDaemon(), "config-file")
	return v == knowledge.DesktopDefaults["config-file"]
}

func desktopDefaults(rep *probev1.Report) *probev1.Finding {
	if !isDesktop(rep) {
		return skip("not Docker Desktop: no defaults to compare", "engine.os "+rep.GetEngine().GetOs())
	}
	var ev []string
	sev := OK
	for _, name := range []string{"config-file", "containerd", "pidfile", "swarm-default-advertise-addr", "host-gateway-ip"} {
		want := knowledge.DesktopDefaults[name]
		got, ok := knowledge.FlagValue(rep.GetDaemon(), name)
		switch {
		case !ok:
			ev = append(ev, fmt.Sprintf("--%s not given (current Docker Desktop: %s)", name, want))
			sev = Info
		case got == want:
			ev = append(ev, fmt.Sprintf("--%s %s (as current Docker Desktop)", name, got))
		case name == "host-gateway-ip" && got == knowledge.HostGatewayOld:
			ev = append(ev, fmt.Sprintf("--%s %s: older Docker Desktop versions (current: %s)", name, got, want))
			sev = Info
		case name == "swarm-default-advertise-addr" && got == "eth0":
			ev = append(ev, fmt.Sprintf("--%s=eth0: older Docker Desktop versions (current: the VM's address)", name))
			sev = Info
		default:
			ev = append(ev, fmt.Sprintf("--%s %s differs from current Docker Desktop's %s (custom Docker subnet or other version)", name, got, want))
			sev = Info
		}
	}
	extra := 0
	for _, f := range rep.GetDaemon().GetFlags() {
		n := strings.TrimLeft(f.GetName(), "-")
		if _, known := knowledge.DesktopDefaults[n]; !known {
			ev = append(ev, strings.TrimSpace(f.Option()+" "+f.GetValue())+": not a flag Docker Desktop gives")
			extra++
		}
	}
	if sev == OK && extra == 0 {
		return finding(OK, "dockerd runs with Docker Desktop's current flags", ev, "")
	}
	if sev == OK {
		return finding(Info, fmt.Sprintf("dockerd has Docker Desktop's current flags plus %d more", extra), ev, "")
	}
	return finding(Info, "dockerd's flags drift from current Docker Desktop defaults", ev, "")
}

func interfaceRoles(rep *probev1.Report) *probev1.Finding {
	var ev, unknown []string
	for _, i := range rep.GetInterfaces() {
		addr := ""
		if p, ok := knowledge.FirstIPv4(i); ok {
			addr = " " + p.String()
		}
		ev = append(ev, fmt.Sprintf("%s%s: %s (%s)", i.GetName(), addr, i.GetMeaning(), i.GetRole()))
		if i.GetRole() == knowledge.RoleUnknown {
			unknown = append(unknown, i.GetName())
		}
	}
	if len(unknown) > 0 {
		return finding(Info, "interfaces Docker Desktop does not create: "+strings.Join(unknown, ", "), ev, "")
	}
	return finding(OK, fmt.Sprintf("%d interfaces, each with a known role", len(ev)), ev, "")
}

func dockerSubnet(rep *probev1.Report) *probev1.Finding {
	ds := rep.GetKnowledge().GetDockerSubnet()
	if ds == nil {
		return skip("no Docker subnet: the engine is not Docker Desktop-shaped (no eth0 address, no --host-gateway-ip)")
	}
	ev := append([]string{}, ds.GetSources()...)
	ev = append(ev, fmt.Sprintf("subnet %s: VM %s, host %s, gateway %s", ds.GetSubnet(), ds.GetVmAddress(), ds.GetHostAddress(), ds.GetGateway()))
	if hs := ds.GetHostAddress(); hs != "" {
		p, _ := netip.ParsePrefix(ds.GetSubnet())
		if a, err := netip.ParseAddr(hs); err == nil && !p.Contains(a) {
			return finding(Warning, fmt.Sprintf("the host address %s (--host-gateway-ip) lies outside the Docker subnet %s", hs, ds.GetSubnet()), ev,
				"restart Docker Desktop so that it recomputes the addresses; report it if it persists")
		}
	}
	if s := ds.GetSettingsSubnet(); s != "" {
		ev = append(ev, "settings-store.json asks for "+s)
		if sp, ok := knowledge.ParsePrefix(s); ok && sp.String() != ds.GetSubnet() {
			return finding(Warning, fmt.Sprintf("the Docker subnet is %s but the settings ask for %s (Docker Desktop 4.50+ moves it when a host route overlaps, or a restart is pending)", ds.GetSubnet(), s), ev,
				"restart Docker Desktop to apply the setting, or choose a range no host route uses (Settings > Resources > Network)")
		}
	}
	if !ds.GetIsDefault() {
		return finding(Info, fmt.Sprintf("the Docker subnet is %s (not the default %s)", ds.GetSubnet(), knowledge.DefaultDesktopSubnet), ev, "")
	}
	return finding(OK, "the Docker subnet is the default "+ds.GetSubnet(), ev, "")
}

func hostRoutes(rep *probev1.Report) *probev1.Finding {
	h := rep.GetHost()
	if h == nil {
		return skip("the host's routes were not collected")
	}
	for _, e := range h.GetErrors() {
		if e.GetSection() == "host.routes" {
			return skip("the host's routes could not be read: "+e.GetMessage(), "host.errors[host.routes]")
		}
	}
	return finding(OK, fmt.Sprintf("%d host routes on %s", len(h.GetRoutes()), h.GetOs()), nil, "")
}

// dockerRange is one range Docker uses inside the VM.
type dockerRange struct {
	what   string
	prefix netip.Prefix
	device string // the VM's bridge for it, when known
	// pool: a range Docker will take from, which no network uses yet; an
	// overlap there breaks nothing today.
	pool bool
}

func dockerRanges(rep *probev1.Report) []dockerRange {
	var out []dockerRange
	if ds := rep.GetKnowledge().GetDockerSubnet(); ds != nil {
		if p, ok := knowledge.ParsePrefix(ds.GetSubnet()); ok {
			out = append(out, dockerRange{"the Docker subnet", p, "eth0", false})
		}
	}
	for _, n := range rep.GetEngine().GetNetworks() {
		for _, s := range n.GetSubnets() {
			if p, ok := knowledge.ParsePrefix(s.GetSubnet()); ok && p.Addr().Is4() {
				out = append(out, dockerRange{fmt.Sprintf("Docker network %q", n.GetName()), p, knowledge.BridgeName(n), false})
			}
		}
	}
	if c := knowledge.Interface(rep, "cni0"); c != nil {
		if p, ok := knowledge.FirstIPv4(c); ok {
			out = append(out, dockerRange{"the Kubernetes pod network (cni0)", p.Masked(), "cni0", false})
		}
	}
	for _, pl := range rep.GetKnowledge().GetAddressPools() {
		if p, ok := knowledge.ParsePrefix(pl.GetBase()); ok {
			out = append(out, dockerRange{fmt.Sprintf("address pool %s (size /%d, %s)", pl.GetBase(), pl.GetSize(), pl.GetSource()), p, "", true})
		}
	}
	return out
}

// conflictingRoutes returns the host routes that matter for overlaps: not
// default, loopback, link-local or multicast, and not the host's own copy
// of the same engine's bridge (agent and engine on one Linux machine).
func conflictingRoutes(rep *probev1.Report) []*probev1.Route {
	var out []*probev1.Route
	for _, r := range rep.GetHost().GetRoutes() {
		p, ok := knowledge.ParsePrefix(r.GetDestination())
		if !ok || !p.Addr().Is4() || p.Bits() == 0 || p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() {
			continue
		}
		if p.Bits() == 32 && (p.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
			continue
		}
		if ownBridgeRoute(rep, r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// ownBridgeRoute reports whether r is the host's route to one of this
// engine's own bridges (agent and engine on one Linux machine).
func ownBridgeRoute(rep *probev1.Report, r *probev1.Route) bool {
	for _, n := range rep.GetEngine().GetNetworks() {
		if sameBridge(rep, r, knowledge.BridgeName(n)) {
			return true
		}
	}
	return sameBridge(rep, r, "cni0")
}

// sameBridge reports whether a host route is the engine's own bridge seen
// from the same machine: same device name and the host's interface has
// the very address the VM's has.
func sameBridge(rep *probev1.Report, r *probev1.Route, device string) bool {
	if device == "" || r.GetDevice() != device {
		return false
	}
	var hostIf *probev1.Interface
	for _, i := range rep.GetHost().GetInterfaces() {
		if i.GetName() == device {
			hostIf = i
		}
	}
	vmIf := knowledge.Interface(rep, device)
	if hostIf == nil || vmIf == nil {
		return false
	}
	hp, ok1 := knowledge.FirstIPv4(hostIf)
	vp, ok2 := knowledge.FirstIPv4(vmIf)
	return ok1 && ok2 && hp == vp
}

func hostOverlap(rep *probev1.Report) *probev1.Finding {
	var ev []string
	for _, r := range rep.GetHost().GetRoutes() {
		if ownBridgeRoute(rep, r) {
			ev = append(ev, fmt.Sprintf("host route %s dev %s is this engine's own bridge seen from the same machine: not a conflict", r.GetDestination(), r.GetDevice()))
		}
	}
	hits, inUse := 0, 0
	for _, dr := range dockerRanges(rep) {
		for _, r := range conflictingRoutes(rep) {
			p, _ := knowledge.ParsePrefix(r.GetDestination())
			if !p.Overlaps(dr.prefix) {
				continue
			}
			hits++
			if !dr.pool {
				inUse++
			}
			via := ""
			if r.GetGateway() != "" {
				via = " via " + r.GetGateway()
			}
			ev = append(ev, fmt.Sprintf("%s %s overlaps host route %s%s dev %s", dr.what, dr.prefix, r.GetDestination(), via, r.GetDevice()))
		}
	}
	if hits == 0 {
		return finding(OK, "no Docker range overlaps a host route", ev, "")
	}
	// A range in use (the Docker subnet, a network, the pod network)
	// already hides those host-side addresses from containers: an error.
	// A pool nothing uses yet only will, when a network is taken from it.
	sev, summary := Warning, fmt.Sprintf("%d overlap(s) between Docker's address pools and the host's routes: a network taken from them will not reach those host-side addresses", hits)
	if inUse > 0 {
		sev, summary = Error, fmt.Sprintf("%d overlap(s) between Docker's ranges in use and the host's routes: containers cannot reach those host-side addresses (the classic VPN conflict)", hits)
	}
	return finding(sev, summary, ev,
		"move the Docker range: Docker subnet in Settings > Resources > Network; networks with `docker network create --subnet`; pools with \"default-address-pools\" in daemon.json; or narrow the VPN's routes")
}

func nextSubnet(rep *probev1.Report) *probev1.Finding {
	if containerdHost(rep) {
		return skip("containerd host: nerdctl's networks come from CNI configuration, not dockerd's address pools")
	}
	k := rep.GetKnowledge()
	if rep.GetEngine() == nil || k == nil {
		return skip("no engine facts")
	}
	var ev []string
	for _, p := range k.GetAddressPools() {
		ev = append(ev, fmt.Sprintf("pool %s size /%d (%s)", p.GetBase(), p.GetSize(), p.GetSource()))
	}
	for _, p := range knowledge.NetworkPrefixes(rep.GetEngine()) {
		ev = append(ev, "in use "+p.String())
	}
	next := k.GetNextNetworkSubnet()
	if next == "" {
		return finding(Warning, "the address pools are exhausted: `docker network create` without --subnet will fail", ev,
			"remove unused networks (`docker network prune`) or add pools (\"default-address-pools\")")
	}
	np, _ := knowledge.ParsePrefix(next)
	for _, r := range conflictingRoutes(rep) {
		if p, ok := knowledge.ParsePrefix(r.GetDestination()); ok && p.Overlaps(np) {
			return finding(Warning, fmt.Sprintf("the next network will get %s, which overlaps host route %s dev %s", next, r.GetDestination(), r.GetDevice()),
				append(ev, "host route "+r.GetDestination()), "create it with an explicit --subnet outside the host's routes")
		}
	}
	return finding(Info, "the next `docker network create` will get "+next+" (dockerd hands pools out round-robin: after a network was removed it may continue past this one)", ev, "")
}

func kubernetes(rep *probev1.Report) *probev1.Finding {
	c := knowledge.Interface(rep, "cni0")
	if c == nil {
		return finding(OK, "no cni0: Kubernetes is off (or uses another CNI bridge)", []string{"no interface cni0"}, "")
	}
	p, _ := knowledge.FirstIPv4(c)
	return finding(Info, "cni0 "+p.String()+": Docker Desktop's Kubernetes is on; pods use "+p.Masked().String(),
		[]string{"interface cni0 " + p.String() + " state " + c.GetOperState()}, "")
}

func hostGateway(rep *probev1.Report) *probev1.Finding {
	if containerdHost(rep) {
		return skip("containerd host: containerd has no host-gateway address (that is dockerd's --host-gateway-ip)")
	}
	flag, hasFlag := knowledge.FlagValue(rep.GetDaemon(), "host-gateway-ip")
	got := rep.GetEngine().GetHostGatewayIp()
	ev := []string{"engine.hostGatewayIp " + got + " (the probe's /etc/hosts entry for host-gateway)"}
	if hasFlag {
		ev = append(ev, "dockerd --host-gateway-ip "+flag)
	}
	switch {
	case got == "":
		return finding(Warning, "the engine gave no host-gateway address: --add-host NAME:host-gateway will not work", ev,
			"use Docker 20.10 or newer, or set --host-gateway-ip / \"host-gateway-ip\"")
	case hasFlag && got != flag:
		return finding(Error, fmt.Sprintf("host-gateway resolves to %s but dockerd's --host-gateway-ip is %s", got, flag), ev,
			"restart the engine; if it persists, another dockerd may serve this endpoint (check target)")
	case !hasFlag:
		return finding(OK, "host-gateway is "+got+" (dockerd's default: docker0's address)", ev, "")
	}
	return finding(OK, "host-gateway is "+got+", as --host-gateway-ip says", ev, "")
}

func specialNames(rep *probev1.Report) *probev1.Finding {
	if len(rep.GetNames()) == 0 {
		return skip("the probe did not look the names up")
	}
	ds := rep.GetKnowledge().GetDockerSubnet()
	hg := ds.GetHostAddress()
	if hg == "" {
		hg = rep.GetEngine().GetHostGatewayIp()
	}
	var ev, problems []string
	asked, answered := false, false
	for _, n := range rep.GetNames() {
		isDNS := strings.HasPrefix(n.GetSource(), "dns")
		if n.GetError() != "" {
			ev = append(ev, fmt.Sprintf("%s: %s (%s)", n.GetName(), n.GetError(), n.GetSource()))
			if isDNS && !strings.HasPrefix(n.GetError(), "not asked") && !strings.HasPrefix(n.GetError(), "no resolv.conf") && !strings.HasPrefix(n.GetError(), "no IPv4 nameserver") {
				asked = true
				if n.GetName() == "host.docker.internal" && knowledge.DesktopShaped(rep) {
					problems = append(problems, "host.docker.internal does not resolve from the VM's resolver: "+n.GetError())
				}
			}
			continue
		}
		if isDNS {
			asked, answered = true, true
		}
		ev = append(ev, fmt.Sprintf("%s -> %s (%s, %.0f ms)", n.GetName(), strings.Join(n.GetAddresses(), ", "), n.GetSource(), n.GetMilliseconds()))
		switch {
		case n.GetName() == "host.docker.internal" && hg != "" && !slices.Contains(n.GetAddresses(), hg):
			problems = append(problems, fmt.Sprintf("host.docker.internal is %s by %s, but the host-gateway address (--host-gateway-ip) is %s",
				strings.Join(n.GetAddresses(), ", "), n.GetSource(), hg))
		case n.GetName() == "gateway.docker.internal" && ds.GetGateway() != "" && !slices.Contains(n.GetAddresses(), ds.GetGateway()):
			ev = append(ev, fmt.Sprintf("note: gateway.docker.internal is not the VM's default gateway %s", ds.GetGateway()))
		}
	}
	ev = append(ev, "host-gateway "+hg)
	if len(problems) > 0 {
		return finding(Warning, strings.Join(problems, "; "), ev,
			"containers that use host.docker.internal will not reach the host as expected: restart Docker Desktop; remove stale /etc/hosts entries; check Settings > Resources > Network")
	}
	switch {
	case answered:
		return finding(OK, "the VM's resolver answers the special names and agrees with host-gateway "+hg, ev, "")
	case asked:
		return finding(Info, "the VM's resolver does not know the special names (not Docker Desktop's DNS); with plain dockerd use --add-host host.docker.internal:host-gateway ("+hg+")", ev, "")
	}
	return finding(Info, "the special names were not resolved from the VM (see evidence); with plain dockerd use --add-host host.docker.internal:host-gateway ("+hg+")", ev, "")
}

func sharesHostPath(rep *probev1.Report) *probev1.Finding {
	shares := rep.GetKnowledge().GetShares()
	if len(shares) == 0 {
		return skip("no host shares under " + knowledge.ShareRootDesktop + " or " + knowledge.ShareRootMnt + ": not Docker Desktop on Windows")
	}
	var ev []string
	for _, s := range shares {
		line := fmt.Sprintf("mount %d %s: %s %s root %s dev %s propagation %s", s.GetMountId(), s.GetPath(), s.GetFsType(), s.GetSource(), s.GetRoot(), s.GetMajorMinor(), s.GetPropagation())
		if s.GetSameFilesystemAs() != "" {
			line += "; same filesystem and root as " + s.GetSameFilesystemAs()
		}
		if len(s.GetSeenBy()) > 0 {
			line += "; seen by " + strings.Join(s.GetSeenBy(), ", ")
		}
		if len(s.GetNotSeenBy()) > 0 {
			line += "; NOT seen by " + strings.Join(s.GetNotSeenBy(), ", ")
		}
		ev = append(ev, line)
	}
	var desktopShared, desktopAny bool
	var mntPrivate []string
	for _, s := range shares {
		if strings.HasPrefix(s.GetPath(), knowledge.ShareRootDesktop+"/") {
			desktopAny = true
			if knowledge.IsShared(s.GetPropagation()) {
				desktopShared = true
			}
		} else if !knowledge.IsShared(s.GetPropagation()) {
			mntPrivate = append(mntPrivate, s.GetPath())
		}
	}
	if !desktopAny {
		return finding(Warning, "only "+knowledge.ShareRootMnt+" exists: Kubernetes hostPath has no /run/desktop/mnt/host path to use", ev,
			"restart Docker Desktop; check that file sharing for the drive is on")
	}
	why := "the /run/desktop/mnt/host mounts are shared (mount propagation), so they propagate into the mount namespaces of kubelet and of the containers it starts"
	if len(mntPrivate) > 0 {
		why += "; " + strings.Join(mntPrivate, ", ") + " are private binds of the same filesystems, visible only in dockerd's own namespace: identical listings, but nothing propagates from them"
	}
	for _, s := range shares {
		if strings.HasPrefix(s.GetPath(), knowledge.ShareRootMnt+"/") {
			for _, who := range s.GetNotSeenBy() {
				if strings.HasPrefix(who, "kubelet ") {
					why += "; evidence: kubelet's mount namespace (" + who + ") lacks " + s.GetPath()
					break
				}
			}
		}
	}
	if !desktopShared {
		return finding(Warning, "the /run/desktop/mnt/host mounts are not shared here: hostPath may not see host files", ev,
			"restart Docker Desktop; the LinuxKit VM normally makes /run/desktop/mnt/host rshared")
	}
	return finding(OK, "Kubernetes hostPath must use /run/desktop/mnt/host/<drive>/... (e.g. /run/desktop/mnt/host/c/temp/WebApplication1): "+why, ev, "")
}
