package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Issue 11, section 3: on the same VM shape (both engines run in the same
// LinuxKit-shaped fixture), every check gives the same answer whichever
// engine runs there. This file sorts first, so it runs before any test
// creates a network (that moves dockerd's round-robin pool index, and with
// it net.next-subnet).

// engineView is what the checks and the report say about the VM, with
// what names one environment rather than another (its pids, state
// directory, netns, cgroup parent, object IDs) replaced by placeholders.
type engineView struct {
	Findings      map[string]string   // id -> "status severity: summary | evidence..."
	Interfaces    []string            // "name kind cidr... role: meaning"
	Flags         []string            // dockerd's flags, "name=value", in order
	Shares        []string            // path, propagation, same filesystem, seen by, not seen by
	HostGateway   string              // engine.hostGatewayIp
	Networks      []string            // name driver subnet gateway bridge internal ipv6
	NetworkOpts   map[string][]string // network name -> "key=value" driver options
	DockerSubnet  string              // knowledge.dockerSubnet
	NextSubnet    string              // knowledge.nextNetworkSubnet
	AddressPools  []string            // knowledge.addressPools
	Effective     []string            // knowledge.effectiveConfig: key=value (source)
	Routes        []string            // the VM's routes
	Mounts        []string            // the VM's host-share mounts: mount point, propagation, fs type
	NamesLookedUp []string            // names.*: name, source, answer
}

var (
	mountIDRE = regexp.MustCompile(`\bmount \d+ `)
	nsInodeRE = regexp.MustCompile(`\b(mnt|net|pid):\[\d+\]`)
)

func viewOf(t *testing.T, e *engineEnv) engineView {
	t.Helper()
	r := runAgent(t, e, nil, "", "doctor", "-o", "json")
	if r.code != 0 {
		t.Fatalf("%s: agent doctor exited %d\n%s", e.Name, r.code, r.stderr)
	}
	dockerdExe := "/usr/sbin/dockerd"
	if e.Bin != "" {
		dockerdExe = e.Bin + "/dockerd"
	}
	norm := strings.NewReplacer(
		dockerdExe+" ", "$DOCKERD ",
		e.Env["LK_STATE"], "$STATE",
		e.Env["LK_CGROUP_PARENT"], "$CGROUP_PARENT",
		e.Env["LK_NETNS"], "$NETNS",
	)
	pids := func(s string) string {
		for _, k := range []string{"LK_DOCKERD_PID", "LK_CONTAINERD_PID"} {
			for _, f := range []string{"dockerd %s", "containerd %s", "pid %s"} {
				s = strings.ReplaceAll(s, fmt.Sprintf(f, e.Env[k]), fmt.Sprintf(f, "$"+strings.TrimPrefix(k, "LK_")))
			}
		}
		// Mount ids and namespace inodes number this environment's mounts.
		s = mountIDRE.ReplaceAllString(s, "mount $$ID ")
		s = nsInodeRE.ReplaceAllString(s, "$1:[$$INODE]")
		return norm.Replace(s)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%s: doctor -o json: %v", e.Name, err)
	}
	v := engineView{Findings: map[string]string{}, NetworkOpts: map[string][]string{}, HostGateway: fmt.Sprint(get(doc, "engine", "hostGatewayIp"))}
	for _, f := range list(doc, "findings") {
		m := f.(map[string]any)
		var ev []string
		for _, x := range m["evidence"].([]any) {
			ev = append(ev, pids(x.(string)))
		}
		id := m["id"].(string)
		if measured[id] {
			// The verdict must agree; the numbers are each machine's own.
			v.Findings[id] = fmt.Sprintf("%v %v", m["status"], m["severity"])
			continue
		}
		v.Findings[id] = fmt.Sprintf("%v %v: %s | %s", m["status"], m["severity"], pids(m["summary"].(string)), strings.Join(ev, " | "))
	}
	for _, it := range list(doc, "interfaces") {
		m := it.(map[string]any)
		var cidrs []string
		for _, a := range m["addresses"].([]any) {
			// IPv6 link-local addresses come from each veth's random MAC.
			if c := a.(map[string]any)["cidr"].(string); !strings.HasPrefix(c, "fe80:") {
				cidrs = append(cidrs, c)
			}
		}
		v.Interfaces = append(v.Interfaces, fmt.Sprintf("%v %v %v %v: %v", m["name"], m["kind"], cidrs, m["role"], m["meaning"]))
	}
	slices.Sort(v.Interfaces)
	for _, f := range list(doc, "daemon", "flags") {
		m := f.(map[string]any)
		v.Flags = append(v.Flags, norm.Replace(fmt.Sprintf("%v=%v", m["name"], m["value"])))
	}
	for _, s := range list(doc, "knowledge", "shares") {
		m := s.(map[string]any)
		v.Shares = append(v.Shares, pids(fmt.Sprintf("%v %v same-fs-as %v seen-by %v not-seen-by %v", m["path"], m["propagation"], m["sameFilesystemAs"], m["seenBy"], m["notSeenBy"])))
	}
	slices.Sort(v.Shares)
	for _, n := range list(doc, "engine", "networks") {
		m := n.(map[string]any)
		var subs []string
		for _, s := range m["subnets"].([]any) {
			sm := s.(map[string]any)
			subs = append(subs, fmt.Sprintf("%v gw %v range %v", sm["subnet"], sm["gateway"], sm["ipRange"]))
		}
		v.Networks = append(v.Networks, fmt.Sprintf("%v driver %v scope %v subnets %v bridge %v internal %v ipv6 %v", m["name"], m["driver"], m["scope"], subs, m["bridge"], m["internal"], m["enableIpv6"]))
		var opts []string
		for k, o := range m["options"].(map[string]any) {
			opts = append(opts, fmt.Sprintf("%s=%v", k, o))
		}
		slices.Sort(opts)
		v.NetworkOpts[m["name"].(string)] = opts
	}
	slices.Sort(v.Networks)
	ds := get(doc, "knowledge", "dockerSubnet").(map[string]any)
	v.DockerSubnet = fmt.Sprintf("%v vm %v host %v gw %v default %v sources %v", ds["subnet"], ds["vmAddress"], ds["hostAddress"], ds["gateway"], ds["isDefault"], ds["sources"])
	v.NextSubnet = fmt.Sprint(get(doc, "knowledge", "nextNetworkSubnet"))
	for _, p := range list(doc, "knowledge", "addressPools") {
		m := p.(map[string]any)
		v.AddressPools = append(v.AddressPools, fmt.Sprintf("%v/%v %v", m["base"], m["size"], m["source"]))
	}
	for _, c := range list(doc, "knowledge", "effectiveConfig") {
		m := c.(map[string]any)
		v.Effective = append(v.Effective, norm.Replace(fmt.Sprintf("%v=%v (%v: %v)", m["key"], m["value"], m["source"], m["origin"])))
	}
	for _, rt := range list(doc, "routes") {
		m := rt.(map[string]any)
		// The local route of a link-local address (random, see above)
		// appears once its duplicate address detection is over.
		if d := m["destination"].(string); strings.HasPrefix(d, "fe80:") && strings.HasSuffix(d, "/128") {
			continue
		}
		v.Routes = append(v.Routes, fmt.Sprintf("%v via %v dev %v", m["destination"], m["gateway"], m["device"]))
	}
	slices.Sort(v.Routes)
	for _, mt := range list(doc, "mounts") {
		m := mt.(map[string]any)
		p := m["mountPoint"].(string)
		if strings.HasPrefix(p, "/run/desktop/mnt/host/") || strings.HasPrefix(p, "/mnt/host/") {
			v.Mounts = append(v.Mounts, norm.Replace(fmt.Sprintf("%s %v %v root %v", p, m["propagation"], m["fsType"], m["root"])))
		}
	}
	slices.Sort(v.Mounts)
	for _, n := range list(doc, "names") {
		m := n.(map[string]any)
		v.NamesLookedUp = append(v.NamesLookedUp, fmt.Sprintf("%v from %v: %v %v", m["name"], m["source"], m["addresses"], m["error"]))
	}
	slices.Sort(v.NamesLookedUp)
	return v
}

// measured are the findings whose text carries readings of each
// environment (clock offsets, disk and memory usage, the process chain
// with its pids and namespace ids): only their verdicts are compared.
var measured = map[string]bool{"vm.clock": true, "vm.disk": true, "vm.memory": true, "target.ancestry": true}

func TestEnginesAgree(t *testing.T) {
	if len(engines) < 2 {
		t.Fatalf("%d engines up, want two to compare", len(engines))
	}
	views := make([]engineView, len(engines))
	for i, e := range engines {
		views[i] = viewOf(t, e)
	}
	a, an := views[0], engines[0].Name
	for i, b := range views[1:] {
		bn := engines[i+1].Name
		diffList := func(what string, x, y []string) {
			t.Helper()
			if !slices.Equal(x, y) {
				t.Errorf("%s differ:\n  %s: %q\n  %s: %q", what, an, x, bn, y)
			}
		}
		for _, id := range keys(a.Findings) {
			if a.Findings[id] != b.Findings[id] {
				t.Errorf("finding %s differs:\n  %s: %s\n  %s: %s", id, an, a.Findings[id], bn, b.Findings[id])
			}
		}
		for _, id := range keys(b.Findings) {
			if _, ok := a.Findings[id]; !ok {
				t.Errorf("finding %s only on %s: %s", id, bn, b.Findings[id])
			}
		}
		diffList("interfaces and roles", a.Interfaces, b.Interfaces)
		diffList("dockerd flags", a.Flags, b.Flags)
		diffList("shares", a.Shares, b.Shares)
		diffList("host gateway", []string{a.HostGateway}, []string{b.HostGateway})
		diffList("networks", a.Networks, b.Networks)
		for _, n := range keys(a.NetworkOpts) {
			diffList("options of network "+n, a.NetworkOpts[n], b.NetworkOpts[n])
		}
		diffList("Docker subnet", []string{a.DockerSubnet}, []string{b.DockerSubnet})
		diffList("next network subnet", []string{a.NextSubnet}, []string{b.NextSubnet})
		diffList("address pools", a.AddressPools, b.AddressPools)
		diffList("effective config", a.Effective, b.Effective)
		diffList("routes", a.Routes, b.Routes)
		diffList("host-share mounts", a.Mounts, b.Mounts)
		diffList("special names", a.NamesLookedUp, b.NamesLookedUp)
	}
	if !t.Failed() {
		t.Logf("%d findings, %d interfaces, %d flags, %d shares, %d networks: the same on %s",
			len(a.Findings), len(a.Interfaces), len(a.Flags), len(a.Shares), len(a.Networks), strings.Join(func() []string {
				var n []string
				for _, e := range engines {
					n = append(n, e.Name)
				}
				return n
			}(), " and "))
	}
}
