package cluster

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dockprobe/dockprobe/agent/internal/checks"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Cluster check IDs: a public contract like the node checks' (documented
// in docs/findings.md), never reused.
const (
	IDNodesProbed    = "cluster.nodes-probed"
	IDKernel         = "cluster.kernel"
	IDRuntimeVersion = "cluster.runtime-version"
	IDRuntimeFlags   = "cluster.runtime-flags"
	IDKubelet        = "cluster.kubelet"
	IDCNI            = "cluster.cni"
	IDMTU            = "cluster.mtu"
	IDPodRoutes      = "cluster.pod-routes"
	IDHostShares     = "cluster.host-shares"
)

const docs = "https://github.com/dockprobe/dockprobe/blob/main/docs/findings.md#"

// check is one cluster check.
type check struct {
	id, title string
	run       func(nodes []*probev1.NodeReport) *probev1.Finding
}

func all() []check {
	return []check{
		{IDNodesProbed, "every selected node was probed", nodesProbed},
		{IDKernel, "the nodes run the same kernel", keyedCheck("kernel", kernel,
			"run one kernel (one node image) on every node: cgroup, eBPF, overlay and netfilter behaviour differ between kernels")},
		{IDRuntimeVersion, "the nodes run the same container runtime version", keyedCheck("container runtime version", runtimeVersion,
			"upgrade the nodes' runtime to one version; mixed versions behave differently with the same pod")},
		{IDRuntimeFlags, "the nodes' container runtimes have the same flags", keyedCheck("runtime flags", runtimeFlags,
			"make the runtime's command line the same on every node (its unit file or its node image)")},
		{IDKubelet, "the nodes' kubelets have the same flags and configuration", keyedCheck("kubelet flags and configuration", kubeletSettings,
			"align the kubelet's flags and --config file across nodes (a cgroupDriver or maxPods that differs changes what a pod gets)")},
		{IDCNI, "the nodes have the same CNI configuration", keyedCheck("CNI configuration", cniNetworks,
			"the CNI plugin's configuration must be the same on every node: redeploy the CNI plugin, or copy /etc/cni/net.d from a good node")},
		{IDMTU, "the nodes' pod network interfaces have the same MTU", keyedCheck("MTU", mtus,
			"set one MTU for the pod network on every node (the CNI plugin's mtu setting); a smaller path MTU on one node drops large packets between pods")},
		{IDPodRoutes, "every node routes to the other nodes' pod CIDRs", podRoutes},
		{IDHostShares, "the host shares a hostPath volume may use are on every node", keyedCheck("host shares", hostShares,
			"a hostPath volume under a host share works only on the nodes that have it: pin the pod with a nodeSelector, or mount the share on every node")},
	}
}

// Checks runs the cluster checks over the nodes, most severe first (ties
// keep check order).
func Checks(nodes []*probev1.NodeReport) []*probev1.Finding {
	var out []*probev1.Finding
	for _, c := range all() {
		f := c.run(nodes)
		f.Id, f.Title = c.id, c.title
		if f.Status == "" {
			f.Status = statusOf(f.Severity)
		}
		if f.DocUrl == "" {
			f.DocUrl = docs + strings.ReplaceAll(c.id, ".", "")
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b *probev1.Finding) int { return cmp.Compare(checks.Rank(b.Severity), checks.Rank(a.Severity)) })
	return out
}

func statusOf(sev string) string {
	switch sev {
	case checks.Warning:
		return checks.Warn
	case checks.Error:
		return checks.Fail
	}
	return checks.Pass
}

func skip(summary string) *probev1.Finding {
	return &probev1.Finding{Severity: checks.OK, Status: checks.Skip, Summary: summary}
}

func nodesProbed(nodes []*probev1.NodeReport) *probev1.Finding {
	var ev []string
	for _, n := range nodes {
		if e := n.GetError(); e != nil {
			ev = append(ev, fmt.Sprintf("%s: %s: %s", n.GetName(), e.GetKind(), e.GetMessage()))
		}
	}
	switch {
	case len(nodes) == 0:
		return &probev1.Finding{Severity: checks.Error, Summary: "no node was selected"}
	case len(ev) == 0:
		return &probev1.Finding{Severity: checks.OK, Summary: fmt.Sprintf("all %d nodes were probed", len(nodes))}
	case len(ev) == len(nodes):
		return &probev1.Finding{Severity: checks.Error, Summary: fmt.Sprintf("none of the %d nodes could be probed", len(nodes)), Evidence: ev,
			Fix: "each node's error says what to do; the first usually applies to all"}
	}
	return &probev1.Finding{Severity: checks.Warning, Summary: fmt.Sprintf("%d of %d nodes could not be probed; the cluster checks cover the others", len(ev), len(nodes)), Evidence: ev,
		Fix: "each node's error says what to do"}
}

// facts gives a node's values by key, and whether the node has them at
// all (a node without a report has no flags, but the API knows its
// kernel).
type facts func(n *probev1.NodeReport) (map[string]string, bool)

// keyedCheck compares every key's value across the nodes that have the
// facts: a key whose value differs, or that some of them lack, is one line
// of evidence ("--cgroup-driver: systemd on a, b; cgroupfs on c").
func keyedCheck(what string, get facts, fix string) func([]*probev1.NodeReport) *probev1.Finding {
	return func(nodes []*probev1.NodeReport) *probev1.Finding {
		type nodeFacts struct {
			name string
			m    map[string]string
		}
		var have []nodeFacts
		keys := map[string]bool{}
		for _, n := range nodes {
			m, ok := get(n)
			if !ok {
				continue
			}
			have = append(have, nodeFacts{n.GetName(), m})
			for k := range m {
				keys[k] = true
			}
		}
		if len(have) < 2 {
			return skip(fmt.Sprintf("fewer than two nodes report their %s", what))
		}
		if len(keys) == 0 {
			return skip(fmt.Sprintf("no node reports any %s", what))
		}
		var ev []string
		for _, k := range sortedKeys(keys) {
			byValue := map[string][]string{}
			for _, h := range have {
				v, ok := h.m[k]
				if !ok {
					v = "(absent)"
				}
				byValue[v] = append(byValue[v], h.name)
			}
			if len(byValue) < 2 {
				continue
			}
			var parts []string
			for _, v := range sortedKeys(byValue) {
				parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(byValue[v], ", ")))
			}
			label := k
			if label != "" {
				label += ": "
			}
			ev = append(ev, label+strings.Join(parts, "; "))
		}
		if len(ev) == 0 {
			return &probev1.Finding{Severity: checks.OK, Summary: fmt.Sprintf("the %d nodes have the same %s", len(have), what)}
		}
		return &probev1.Finding{Severity: checks.Warning, Summary: fmt.Sprintf("the nodes' %s differ (%d nodes compared, %d differences)", what, len(have), len(ev)),
			Evidence: ev, Fix: fix}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func kernel(n *probev1.NodeReport) (map[string]string, bool) {
	k := n.GetReport().GetTarget().GetKernelRelease()
	if k == "" {
		k = n.GetInfo().GetKernelVersion()
	}
	return map[string]string{"": k}, k != ""
}

func runtimeVersion(n *probev1.NodeReport) (map[string]string, bool) {
	v := n.GetInfo().GetContainerRuntimeVersion()
	return map[string]string{"": v}, v != ""
}

// nodePathFlags are runtime flags that name this node's own paths and
// sockets: they may differ between nodes sharing one machine without
// anything being wrong.
var nodePathFlags = map[string]bool{
	"config": true, "address": true, "root": true, "state": true, "c": true, "a": true, // containerd
	"config-file": true, "data-root": true, "exec-root": true, "pidfile": true, "host": true, "H": true, "containerd": true, "p": true, // dockerd
}

func runtimeFlags(n *probev1.NodeReport) (map[string]string, bool) {
	d := n.GetReport().GetDaemon()
	if !d.GetFound() {
		return nil, false
	}
	return flagMap(d.GetFlags(), nodePathFlags), true
}

// flagMap is "--name" -> value (repeated flags joined), skipping names in
// skip.
func flagMap(flags []*probev1.Flag, skip map[string]bool) map[string]string {
	m := map[string]string{}
	for _, f := range flags {
		if skip[f.GetName()] {
			continue
		}
		v := f.GetValue()
		if !f.GetHasValue() {
			v = "(set)"
		}
		k := "--" + f.GetName()
		if old, ok := m[k]; ok {
			v = old + "," + v
		}
		m[k] = v
	}
	return m
}

// nodeKubeletFlags and nodeKubeletConfig name one node's identity, paths
// and certificates: they differ between nodes by design.
var (
	nodeKubeletFlags = map[string]bool{
		"hostname-override": true, "node-ip": true, "provider-id": true, "node-labels": true, "kubeconfig": true,
		"bootstrap-kubeconfig": true, "config": true, "root-dir": true, "container-runtime-endpoint": true, "cert-dir": true,
		"tls-cert-file": true, "tls-private-key-file": true, "register-with-taints": true,
	}
	nodeKubeletConfig = map[string]bool{
		"address": true, "port": true, "healthzPort": true, "healthzBindAddress": true, "readOnlyPort": true,
		"containerRuntimeEndpoint": true, "staticPodPath": true, "tlsCertFile": true, "tlsPrivateKeyFile": true,
		"providerID": true, "registerWithTaints": true, "podCIDR": true,
	}
)

func kubeletSettings(n *probev1.NodeReport) (map[string]string, bool) {
	k := n.GetReport().GetKubelet()
	if !k.GetFound() {
		return nil, false
	}
	m := flagMap(k.GetFlags(), nodeKubeletFlags)
	for key, v := range k.GetConfig().GetStructValue().GetFields() {
		if nodeKubeletConfig[key] {
			continue
		}
		m["config "+key] = compact(v.AsInterface())
	}
	return m, true
}

// compact renders a config value on one line.
func compact(v any) string {
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(t) {
			parts = append(parts, k+":"+compact(t[k]))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case []any:
		var parts []string
		for _, e := range t {
			parts = append(parts, compact(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

// cniNetworks compares each network by name: its plugin chain, main type,
// CNI version and bridge (not its subnets: host-local gives every node its
// own pod range).
func cniNetworks(n *probev1.NodeReport) (map[string]string, bool) {
	r := n.GetReport()
	if r == nil || r.GetKubelet() == nil {
		return nil, false
	}
	m := map[string]string{}
	for _, net := range r.GetCniNetworks() {
		o := net.GetOptions()
		if e := o["cni.error"]; e != "" {
			m["file "+o["cni.file"]] = "unreadable"
			continue
		}
		m["network "+net.GetName()] = fmt.Sprintf("type %s, plugins %s, cniVersion %s, bridge %q", net.GetDriver(), o["cni.plugins"], o["cni.version"], net.GetBridge())
	}
	return m, true
}

// podNetworkKinds are the link kinds that carry pod traffic.
var podNetworkKinds = map[string]bool{"bridge": true, "vxlan": true, "ipip": true, "wireguard": true, "geneve": true}

// mtus compares the MTU of the default route's interface and of the
// bridges and tunnels that carry pod traffic (cni0, flannel.1, cilium_vxlan,
// vxlan.calico, ...), by name.
func mtus(n *probev1.NodeReport) (map[string]string, bool) {
	r := n.GetReport()
	if r == nil || len(r.GetInterfaces()) == 0 {
		return nil, false
	}
	m := map[string]string{}
	byName := map[string]*probev1.Interface{}
	for _, i := range r.GetInterfaces() {
		byName[i.GetName()] = i
		if podNetworkKinds[i.GetKind()] || i.GetName() == "cni0" {
			m[i.GetName()] = strconv.Itoa(int(i.GetMtu()))
		}
	}
	for _, rt := range r.GetRoutes() {
		if rt.GetDestination() == "default" && rt.GetFamily() != "inet6" && (rt.GetTable() == 0 || rt.GetTable() == 254) {
			if i := byName[rt.GetDevice()]; i != nil {
				m["default route's interface"] = strconv.Itoa(int(i.GetMtu()))
				break
			}
		}
	}
	return m, true
}

// podRoutes checks that every probed node has a route that covers each
// other node's pod CIDR (as the API allocated them). CNI plugins that route
// pods without kernel routes (eBPF host routing) will warn here.
func podRoutes(nodes []*probev1.NodeReport) *probev1.Finding {
	cidrs := map[string][]netip.Prefix{}
	for _, n := range nodes {
		for _, c := range n.GetInfo().GetPodCidrs() {
			if p, err := netip.ParsePrefix(c); err == nil {
				cidrs[n.GetName()] = append(cidrs[n.GetName()], p.Masked())
			}
		}
	}
	if len(cidrs) < 2 {
		return skip("fewer than two nodes have a pod CIDR allocated by the API (the CNI plugin manages its own ranges)")
	}
	var ev []string
	checked := 0
	for _, n := range nodes {
		r := n.GetReport()
		if r == nil || len(r.GetRoutes()) == 0 {
			continue
		}
		checked++
		var routes []netip.Prefix
		for _, rt := range r.GetRoutes() {
			if p, err := netip.ParsePrefix(rt.GetDestination()); err == nil && p.Bits() > 0 && rt.GetType() != "unreachable" && rt.GetType() != "blackhole" {
				routes = append(routes, p.Masked())
			}
		}
		for _, other := range sortedKeys(cidrs) {
			if other == n.GetName() {
				continue
			}
			for _, c := range cidrs[other] {
				if !covered(c, routes) {
					ev = append(ev, fmt.Sprintf("%s has no route to %s's pod CIDR %s", n.GetName(), other, c))
				}
			}
		}
	}
	if checked == 0 {
		return skip("no probed node reported its routes")
	}
	if len(ev) == 0 {
		return &probev1.Finding{Severity: checks.OK, Summary: fmt.Sprintf("every probed node routes to the other nodes' pod CIDRs (%d nodes)", checked)}
	}
	return &probev1.Finding{Severity: checks.Warning, Summary: fmt.Sprintf("%d pod CIDR routes are missing: pods on those nodes may not reach each other", len(ev)), Evidence: ev,
		Fix: "check the CNI plugin's pods on the nodes named (their logs), and that the nodes reach each other on the CNI's port"}
}

func covered(c netip.Prefix, routes []netip.Prefix) bool {
	for _, r := range routes {
		if r.Bits() <= c.Bits() && r.Contains(c.Addr()) {
			return true
		}
	}
	return false
}

// ShareRoots are where Docker Desktop (and WSL) mount the host's drives;
// a hostPath volume under one works only where it is mounted.
var ShareRoots = []string{"/run/desktop/mnt/host/", "/mnt/host/"}

func hostShares(n *probev1.NodeReport) (map[string]string, bool) {
	r := n.GetReport()
	if r == nil || len(r.GetMounts()) == 0 {
		return nil, false
	}
	m := map[string]string{}
	for _, mt := range r.GetMounts() {
		for _, root := range ShareRoots {
			if rest, ok := strings.CutPrefix(mt.GetMountPoint(), root); ok && rest != "" && !strings.Contains(rest, "/") {
				m[mt.GetMountPoint()] = fmt.Sprintf("%s %s", mt.GetFsType(), mt.GetPropagation())
			}
		}
	}
	return m, true
}
