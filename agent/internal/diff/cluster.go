package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dockprobe/dockprobe/agent/internal/bundle"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// LoadCluster reads a cluster report (`agent probe --runtime kubernetes -o
// json`, or a cluster bundle holding cluster.json). ok is false when data
// is not a cluster report (then Load may read it as a single one).
func LoadCluster(data []byte) (r *probev1.ClusterReport, ok bool, err error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		files, err := bundle.Open(data)
		if err != nil {
			return nil, false, err
		}
		j, found := files["cluster.json"]
		if !found {
			return nil, false, nil
		}
		data = j
	}
	var probe struct {
		Nodes   json.RawMessage `json:"nodes"`
		Cluster json.RawMessage `json:"cluster"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.Nodes == nil || probe.Cluster == nil {
		return nil, false, nil
	}
	var cr probev1.ClusterReport
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &cr); err != nil {
		return nil, true, fmt.Errorf("not a dockprobe cluster report: %w", err)
	}
	return &cr, true, nil
}

// CompareClusters lists what differs from a to b node by node: nodes added
// or removed, a node's state (its report, or its error), and for a node
// reported in both, everything Compare finds, marked with the node.
func CompareClusters(a, b *probev1.ClusterReport) []Change {
	byName := func(r *probev1.ClusterReport) map[string]*probev1.NodeReport {
		m := map[string]*probev1.NodeReport{}
		for _, n := range r.GetNodes() {
			m[n.GetName()] = n
		}
		return m
	}
	na, nb := byName(a), byName(b)
	var names []string
	for n := range na {
		names = append(names, n)
	}
	for n := range nb {
		if _, ok := na[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var cs []Change
	for _, name := range names {
		x, y := na[name], nb[name]
		switch {
		case x == nil:
			cs = append(cs, Change{Node: name, Change: "added", Section: "nodes", Key: name, After: state(y)})
			continue
		case y == nil:
			cs = append(cs, Change{Node: name, Change: "removed", Section: "nodes", Key: name, Before: state(x)})
			continue
		}
		if sx, sy := state(x), state(y); sx != sy {
			cs = append(cs, Change{Node: name, Change: "changed", Section: "nodes", Key: "state", Before: sx, After: sy})
		}
		for _, k := range []struct{ key, before, after string }{
			{"kubelet", x.GetInfo().GetKubeletVersion(), y.GetInfo().GetKubeletVersion()},
			{"runtime", x.GetInfo().GetContainerRuntimeVersion(), y.GetInfo().GetContainerRuntimeVersion()},
			{"kernel", x.GetInfo().GetKernelVersion(), y.GetInfo().GetKernelVersion()},
		} {
			if k.before != k.after {
				cs = append(cs, Change{Node: name, Change: "changed", Section: "nodes", Key: k.key, Before: k.before, After: k.after})
			}
		}
		if x.GetReport() == nil || y.GetReport() == nil {
			continue
		}
		for _, c := range Compare(x.GetReport(), y.GetReport()) {
			c.Node = name
			cs = append(cs, c)
		}
	}
	return cs
}

// state is "ok", or the node's error kind.
func state(n *probev1.NodeReport) string {
	if e := n.GetError(); e != nil {
		return "error: " + e.GetKind()
	}
	return "ok"
}
