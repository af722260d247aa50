package hostnet

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/route"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Routes dumps the IPv4 routes from the routing socket.
func Routes() ([]*probev1.Route, error) {
	rib, err := route.FetchRIB(syscall.AF_INET, route.RIBTypeRoute, 0)
	if err != nil {
		return nil, fmt.Errorf("route dump: %w", err)
	}
	msgs, err := route.ParseRIB(route.RIBTypeRoute, rib)
	if err != nil {
		return nil, fmt.Errorf("route dump: %w", err)
	}
	names := map[int]string{}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			names[i.Index] = i.Name
		}
	}
	var out []*probev1.Route
	for _, m := range msgs {
		rm, ok := m.(*route.RouteMessage)
		if !ok || len(rm.Addrs) <= syscall.RTAX_NETMASK {
			continue
		}
		dst, ok := rm.Addrs[syscall.RTAX_DST].(*route.Inet4Addr)
		if !ok {
			continue
		}
		ones := 32
		if rm.Flags&syscall.RTF_HOST == 0 {
			ones = 0
			if mk, ok := rm.Addrs[syscall.RTAX_NETMASK].(*route.Inet4Addr); ok {
				ones, _ = net.IPMask(mk.IP[:]).Size()
			}
		}
		r := &probev1.Route{Family: "inet", Device: names[rm.Index]}
		d := netip.AddrFrom4(dst.IP)
		if ones == 0 && d.IsUnspecified() {
			r.Destination = "default"
		} else {
			r.Destination = netip.PrefixFrom(d, ones).Masked().String()
		}
		if gw, ok := rm.Addrs[syscall.RTAX_GATEWAY].(*route.Inet4Addr); ok {
			r.Gateway = netip.AddrFrom4(gw.IP).String()
		}
		out = append(out, r)
	}
	return out, nil
}
