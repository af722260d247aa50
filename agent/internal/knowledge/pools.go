package knowledge

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// DefaultPools are dockerd's default local address pools (libnetwork
// ipamutils), in the order it hands subnets out.
var DefaultPools = []*probev1.AddressPool{
	{Base: "172.17.0.0/16", Size: 16, Source: "default"},
	{Base: "172.18.0.0/16", Size: 16, Source: "default"},
	{Base: "172.19.0.0/16", Size: 16, Source: "default"},
	{Base: "172.20.0.0/14", Size: 16, Source: "default"},
	{Base: "172.24.0.0/14", Size: 16, Source: "default"},
	{Base: "172.28.0.0/14", Size: 16, Source: "default"},
	{Base: "192.168.0.0/16", Size: 20, Source: "default"},
}

// Pools returns the address pools in effect: --default-address-pool flags,
// else the config file's "default-address-pools", else the defaults.
func Pools(d *probev1.Daemon) []*probev1.AddressPool {
	var out []*probev1.AddressPool
	for _, f := range d.GetFlags() {
		if strings.TrimLeft(f.GetName(), "-") != "default-address-pool" {
			continue
		}
		p := &probev1.AddressPool{Source: "flag"}
		for _, kv := range strings.Split(f.GetValue(), ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.TrimSpace(k) {
			case "base":
				p.Base = v
			case "size":
				n, _ := strconv.Atoi(v)
				p.Size = int32(n)
			}
		}
		out = append(out, p)
	}
	if len(out) > 0 {
		return out
	}
	for _, v := range configFields(d)["default-address-pools"].GetListValue().GetValues() {
		f := v.GetStructValue().GetFields()
		p := &probev1.AddressPool{Source: "config", Base: f["base"].GetStringValue(), Size: int32(f["size"].GetNumberValue())}
		out = append(out, p)
	}
	if len(out) > 0 {
		return out
	}
	return DefaultPools
}

func configFields(d *probev1.Daemon) map[string]*structpb.Value {
	return d.GetConfig().GetStructValue().GetFields()
}

// NetworkPrefixes lists every IPv4 subnet of the engine's networks.
func NetworkPrefixes(e *probev1.Engine) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range e.GetNetworks() {
		for _, s := range n.GetSubnets() {
			if p, ok := ParsePrefix(s.GetSubnet()); ok && p.Addr().Is4() {
				out = append(out, p)
			}
		}
	}
	return out
}

// NextSubnet predicts the subnet the next `docker network create` (bridge,
// no --subnet) gets: dockerd 20.10+ walks its pools round-robin from just
// after the last subnet it allocated, skipping subnets in use. The engine
// does not tell which it allocated last, so this takes the highest pool
// subnet in use as the last one (true unless networks were removed since)
// and wraps to the first free one. It returns "" when the pools are full.
func NextSubnet(pools []*probev1.AddressPool, used []netip.Prefix) (string, error) {
	all, err := expand(pools, 1<<16)
	if err != nil {
		return "", err
	}
	last := -1
	for i, p := range all {
		for _, u := range used {
			if p.Overlaps(u) {
				last = i
			}
		}
	}
	free := func(p netip.Prefix) bool {
		for _, u := range used {
			if p.Overlaps(u) {
				return false
			}
		}
		return true
	}
	for k := 1; k <= len(all); k++ {
		p := all[(last+k)%len(all)]
		if free(p) {
			return p.String(), nil
		}
	}
	return "", nil
}

// expand splits each pool into its subnets, at most limit in all.
func expand(pools []*probev1.AddressPool, limit int) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, pl := range pools {
		base, err := netip.ParsePrefix(pl.GetBase())
		if err != nil || !base.Addr().Is4() {
			return nil, fmt.Errorf("address pool base %q: not an IPv4 CIDR", pl.GetBase())
		}
		base = base.Masked()
		size := int(pl.GetSize())
		if size < base.Bits() || size > 32 {
			return nil, fmt.Errorf("address pool %s size %d: must be between %d and 32", base, size, base.Bits())
		}
		n := 1 << (size - base.Bits())
		step := uint32(1) << (32 - size)
		a4 := base.Addr().As4()
		start := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
		for i := 0; i < n && len(out) < limit; i++ {
			v := start + uint32(i)*step
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), size))
		}
	}
	return out, nil
}
