// Package diff compares two reports: added, removed and changed
// interfaces, addresses, routes, mounts, dockerd flags (and a node's
// kubelet and CNI networks), Docker networks, findings and the engine's
// key facts. It answers "what changed when I
// connected the VPN?" from two `agent probe -o json` files or two bundles.
//
// Identities are stable names, never numbers that change on every boot:
// interfaces by name, mounts by mount point, routes by table and
// destination, networks by name, findings by id. Per-container mounts
// (a container's rootfs and netns file) are not compared: the probe's own
// container makes a new pair on every run.
package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dockprobe/dockprobe/agent/internal/bundle"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Change is one difference.
type Change struct {
	// Node is the node the change is on, for cluster reports (empty for
	// a single engine's).
	Node string `json:"node,omitempty"`
	// Change is added, removed or changed.
	Change  string `json:"change"`
	Section string `json:"section"`
	Key     string `json:"key"`
	Before  string `json:"before"`
	After   string `json:"after"`
}

// Result is the whole comparison, as `agent diff -o json` prints it.
type Result struct {
	A       string   `json:"a"`
	B       string   `json:"b"`
	Differ  bool     `json:"differ"`
	Changes []Change `json:"changes"`
}

// Sections are compared in this order.
// A Kubernetes node's report adds its kubelet (its own command line and
// config file) and its runtime's CNI networks.
var Sections = []string{"engine", "daemon", "flags", "kubelet", "kubelet-flags", "cni", "interfaces", "addresses", "routes", "networks", "mounts", "findings"}

// Load reads a report from a JSON report or a bundle (zip holding
// report.json).
func Load(data []byte) (*probev1.Report, error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		files, err := bundle.Open(data)
		if err != nil {
			return nil, err
		}
		j, ok := files["report.json"]
		if !ok {
			return nil, fmt.Errorf("the bundle has no report.json")
		}
		data = j
	}
	var r probev1.Report
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a dockprobe JSON report or bundle: %w", err)
	}
	return &r, nil
}

// Compare lists what differs from a to b.
func Compare(a, b *probev1.Report) []Change {
	var cs []Change
	cmp := func(section string, before, after map[string]string) {
		keys := make([]string, 0, len(before)+len(after))
		for k := range before {
			keys = append(keys, k)
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			x, inA := before[k]
			y, inB := after[k]
			switch {
			case !inA:
				cs = append(cs, Change{Change: "added", Section: section, Key: k, After: y})
			case !inB:
				cs = append(cs, Change{Change: "removed", Section: section, Key: k, Before: x})
			case x != y:
				cs = append(cs, Change{Change: "changed", Section: section, Key: k, Before: x, After: y})
			}
		}
	}
	cmp("engine", engine(a), engine(b))
	cmp("daemon", daemon(a.GetDaemon()), daemon(b.GetDaemon()))
	cmp("flags", flags(a.GetDaemon()), flags(b.GetDaemon()))
	cmp("kubelet", daemon(a.GetKubelet()), daemon(b.GetKubelet()))
	cmp("kubelet-flags", flags(a.GetKubelet()), flags(b.GetKubelet()))
	cmp("cni", networkMap(a.GetCniNetworks()), networkMap(b.GetCniNetworks()))
	cmp("interfaces", interfaces(a), interfaces(b))
	cmp("addresses", addresses(a), addresses(b))
	cmp("routes", routes(a), routes(b))
	cmp("networks", networks(a), networks(b))
	cmp("mounts", mounts(a), mounts(b))
	cmp("findings", findings(a), findings(b))
	return cs
}

func engine(r *probev1.Report) map[string]string {
	e := r.GetEngine()
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("serverVersion", e.GetServerVersion())
	set("os", e.GetOs())
	set("kernelVersion", e.GetKernelVersion())
	set("hostGatewayIp", e.GetHostGatewayIp())
	set("name", e.GetName())
	set("target", join(r.GetTarget().GetMethod(), r.GetTarget().GetComm()))
	return m
}

func daemon(d *probev1.Daemon) map[string]string {
	m := map[string]string{}
	if d.GetExecutable() != "" {
		m["executable"] = d.GetExecutable()
	}
	if d.GetConfigFile() != "" {
		m["configFile"] = d.GetConfigFile()
	}
	if c := d.GetConfig(); c != nil {
		b, _ := json.Marshal(c.AsInterface())
		m["config"] = string(b)
	} else if d.GetConfigRaw() != "" {
		m["config"] = d.GetConfigRaw()
	}
	return m
}

func flags(d *probev1.Daemon) map[string]string {
	vals := map[string][]string{}
	for _, f := range d.GetFlags() {
		v := f.GetValue()
		if !f.GetHasValue() && v == "" {
			v = "(set)"
		}
		vals[f.Option()] = append(vals[f.Option()], v)
	}
	m := map[string]string{}
	for k, v := range vals {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

func interfaces(r *probev1.Report) map[string]string {
	m := map[string]string{}
	for _, i := range r.GetInterfaces() {
		m[i.GetName()] = join("kind "+or(i.GetKind(), "-"), "mtu "+strconv.Itoa(int(i.GetMtu())), "state "+or(i.GetOperState(), "-"),
			"master "+or(i.GetMaster(), "-"), "mac "+or(i.GetMac(), "-"))
	}
	return m
}

func addresses(r *probev1.Report) map[string]string {
	m := map[string]string{}
	for _, i := range r.GetInterfaces() {
		for _, a := range i.GetAddresses() {
			m[i.GetName()+" "+a.GetCidr()] = join(prefixed("brd ", a.GetBroadcast()), prefixed("peer ", a.GetPeer()), prefixed("scope ", a.GetScope()))
		}
	}
	return m
}

func routes(r *probev1.Report) map[string]string {
	m := map[string]string{}
	for _, rt := range r.GetRoutes() {
		key := or(rt.GetDestination(), "default")
		if t := rt.GetTable(); t != 0 && t != 254 {
			key += " table " + strconv.Itoa(int(t))
		}
		if mt := rt.GetMetric(); mt != 0 {
			key += " metric " + strconv.Itoa(int(mt))
		}
		val := join(prefixed("via ", rt.GetGateway()), prefixed("dev ", rt.GetDevice()), prefixed("src ", rt.GetSource()),
			prefixed("proto ", rt.GetProtocol()), prefixed("scope ", rt.GetScope()))
		unique(m, key, val)
	}
	return m
}

func networks(r *probev1.Report) map[string]string { return networkMap(r.GetEngine().GetNetworks()) }

func networkMap(ns []*probev1.Network) map[string]string {
	m := map[string]string{}
	for _, n := range ns {
		var subs []string
		for _, s := range n.GetSubnets() {
			subs = append(subs, join(s.GetSubnet(), prefixed("gw ", s.GetGateway())))
		}
		m[n.GetName()] = join("driver "+or(n.GetDriver(), "-"), prefixed("bridge ", n.GetBridge()), prefixed("subnets ", strings.Join(subs, ", ")))
	}
	return m
}

// perContainerMount matches mounts that exist because a container runs:
// its rootfs (overlay2/<id>/merged, containerd's task rootfs) and its
// network namespace file. Every run has a new pair for the probe's own
// container, so comparing them would only show noise.
var perContainerMount = regexp.MustCompile(`(/overlay2/[0-9a-f]{64}/merged$|/run/docker/netns/[0-9a-f]+$|/io\.containerd\.runtime\.v2\.task/.+/rootfs$|/containers/[0-9a-f]{64}/mounts/shm$|/run/netns/cni-[0-9a-f-]+$)`)

func mounts(r *probev1.Report) map[string]string {
	m := map[string]string{}
	for _, mt := range r.GetMounts() {
		if perContainerMount.MatchString(mt.GetMountPoint()) {
			continue
		}
		val := join(prefixed("source ", mt.GetSource()), prefixed("fstype ", mt.GetFsType()), prefixed("root ", mt.GetRoot()),
			prefixed("propagation ", mt.GetPropagation()), prefixed("options ", mt.GetOptions()))
		unique(m, mt.GetMountPoint(), val)
	}
	return m
}

func findings(r *probev1.Report) map[string]string {
	m := map[string]string{}
	for _, f := range r.GetFindings() {
		m[f.GetId()] = join(f.GetSeverity(), f.GetStatus(), f.GetSummary())
	}
	return m
}

// unique keeps stacked entries with the same key apart (key, key #2, ...).
func unique(m map[string]string, key, val string) {
	k := key
	for n := 2; ; n++ {
		if _, ok := m[k]; !ok {
			m[k] = val
			return
		}
		k = key + " #" + strconv.Itoa(n)
	}
}

func prefixed(p, v string) string {
	if v == "" {
		return ""
	}
	return p + v
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func join(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, " ")
}

// Text writes the result for people: one block per section, + added,
// - removed, ~ changed (before -> after).
func Text(w io.Writer, res Result) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", res.A, res.B)
	if !res.Differ {
		sb.WriteString("no differences\n")
	}
	// Cluster reports: node by node, in the order of the changes.
	var nodes []string
	for _, c := range res.Changes {
		if !slices.Contains(nodes, c.Node) {
			nodes = append(nodes, c.Node)
		}
	}
	for _, node := range nodes {
		if node != "" {
			fmt.Fprintf(&sb, "\nnode %s\n", node)
		}
		textSections(&sb, res.Changes, node)
	}
	_, err := io.WriteString(w, strings.ReplaceAll(sb.String(), "  \n", "\n"))
	return err
}

func textSections(sb *strings.Builder, changes []Change, node string) {
	for _, sec := range append([]string{"nodes"}, Sections...) {
		first := true
		for _, c := range changes {
			if c.Section != sec || c.Node != node {
				continue
			}
			if first {
				fmt.Fprintf(sb, "\n%s\n", sec)
				first = false
			}
			switch c.Change {
			case "added":
				fmt.Fprintf(sb, "  + %s  %s\n", c.Key, c.After)
			case "removed":
				fmt.Fprintf(sb, "  - %s  %s\n", c.Key, c.Before)
			default:
				fmt.Fprintf(sb, "  ~ %s\n      before: %s\n      after:  %s\n", c.Key, c.Before, c.After)
			}
		}
	}
}

// JSON writes the result as indented JSON (changes always a list).
func JSON(w io.Writer, res Result) error {
	if res.Changes == nil {
		res.Changes = []Change{}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
