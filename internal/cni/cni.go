// Package cni parses CNI network configuration files (.conflist and the
// older single-plugin .conf), the files nerdctl, k3s and Kubernetes keep in
// /etc/cni/net.d, into what dockprobe reports of a network: its name, the
// main plugin's type, the bridge, and the subnets with their gateways.
//
// It is shared by the agent (parsing `nerdctl network inspect --mode
// native`) and the probe (reading the files in the VM), so both describe a
// CNI network the same way. It does not read directories or run plugins.
package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrParse is wrapped by every parse failure.
var ErrParse = errors.New("invalid CNI configuration")

// MaxSize bounds a configuration file; real ones are a few hundred bytes.
const MaxSize = 1 << 20

// Network is one CNI network.
type Network struct {
	Name       string
	CNIVersion string
	// Type is the main (first) plugin's type: bridge, flannel, macvlan...
	Type string
	// Plugins are every plugin's type in chain order.
	Plugins []string
	// Bridge is the Linux bridge of a bridge plugin.
	Bridge  string
	Subnets []Subnet
	// NerdctlID is nerdctl's network ID label ("nerdctlID"), when present.
	NerdctlID string
	// Labels are nerdctl's labels ("nerdctlLabels").
	Labels map[string]string
}

// Subnet is one address range of the network's IPAM.
type Subnet struct {
	Subnet     string
	Gateway    string
	RangeStart string
	RangeEnd   string
}

type conflist struct {
	CNIVersion    string            `json:"cniVersion"`
	Name          string            `json:"name"`
	NerdctlID     string            `json:"nerdctlID"`
	NerdctlLabels map[string]string `json:"nerdctlLabels"`
	Plugins       []plugin          `json:"plugins"`
	// A .conf file is one plugin at the top level.
	plugin
}

type plugin struct {
	Type   string `json:"type"`
	Bridge string `json:"bridge"`
	IPAM   *ipam  `json:"ipam"`
	// flannel delegates to a bridge plugin (cni0 by default).
	Delegate *plugin `json:"delegate"`
}

type ipam struct {
	Type    string        `json:"type"`
	Subnet  string        `json:"subnet"`
	Gateway string        `json:"gateway"`
	Ranges  [][]rangeSpec `json:"ranges"`
}

type rangeSpec struct {
	Subnet     string `json:"subnet"`
	Gateway    string `json:"gateway"`
	RangeStart string `json:"rangeStart"`
	RangeEnd   string `json:"rangeEnd"`
}

// Parse reads one configuration, a .conflist or a .conf: both are JSON
// objects, told apart by their "plugins" list.
func Parse(r io.Reader) (*Network, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read CNI configuration: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrParse, MaxSize)
	}
	var c conflist
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v (input %q)", ErrParse, err, quote(b))
	}
	if c.Name == "" {
		return nil, fmt.Errorf("%w: no network name (input %q)", ErrParse, quote(b))
	}
	plugins := c.Plugins
	if len(plugins) == 0 {
		if c.plugin.Type == "" {
			return nil, fmt.Errorf("%w: network %q has neither plugins nor a type", ErrParse, c.Name)
		}
		plugins = []plugin{c.plugin}
	}
	n := &Network{Name: c.Name, CNIVersion: c.CNIVersion, NerdctlID: c.NerdctlID, Labels: c.NerdctlLabels}
	for i, p := range plugins {
		if p.Type == "" {
			return nil, fmt.Errorf("%w: network %q: plugin %d has no type", ErrParse, c.Name, i)
		}
		n.Plugins = append(n.Plugins, p.Type)
		for q := &p; q != nil; q = q.Delegate {
			if n.Bridge == "" && q.Bridge != "" {
				n.Bridge = q.Bridge
			}
			if n.Bridge == "" && q.Type == "flannel" {
				n.Bridge = "cni0" // flannel's default delegate bridge
			}
			if q.IPAM != nil && len(n.Subnets) == 0 {
				n.Subnets = q.IPAM.subnets()
			}
		}
	}
	n.Type = n.Plugins[0]
	return n, nil
}

func (i *ipam) subnets() []Subnet {
	var out []Subnet
	for _, set := range i.Ranges {
		for _, r := range set {
			if r.Subnet != "" {
				out = append(out, Subnet{Subnet: r.Subnet, Gateway: r.Gateway, RangeStart: r.RangeStart, RangeEnd: r.RangeEnd})
			}
		}
	}
	if len(out) == 0 && i.Subnet != "" {
		out = append(out, Subnet{Subnet: i.Subnet, Gateway: i.Gateway})
	}
	return out
}

// Proto is the network as the report's Network message: driver is the main
// plugin's type, scope "local", options name the CNI version and plugin
// chain (and the file it came from, when given).
func (n *Network) Proto(file string) *probev1.Network {
	pn := &probev1.Network{
		Name:   n.Name,
		Id:     n.NerdctlID,
		Driver: n.Type,
		Scope:  "local",
		Bridge: n.Bridge,
		Options: map[string]string{
			"cni.version": n.CNIVersion,
			"cni.plugins": strings.Join(n.Plugins, ","),
		},
	}
	if file != "" {
		pn.Options["cni.file"] = file
	}
	for _, s := range n.Subnets {
		ipRange := ""
		if s.RangeStart != "" || s.RangeEnd != "" {
			ipRange = s.RangeStart + "-" + s.RangeEnd
		}
		pn.Subnets = append(pn.Subnets, &probev1.Subnet{Subnet: s.Subnet, Gateway: s.Gateway, IpRange: ipRange})
		if strings.Contains(s.Subnet, ":") {
			pn.EnableIpv6 = true
		}
	}
	return pn
}

// quote shortens bad input for an error message.
func quote(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
