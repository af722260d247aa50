package knowledge

import (
	"net/netip"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// BridgeGateways fills the gateway of a bridge network's subnet that the
// engine left empty with the address the network's Linux bridge has in
// that subnet, as the probe saw it in the VM. Docker 20.10 describes its
// default bridge by the subnet alone (the gateway is the bridge's --bip
// address, kept outside IPAM); Engine 29 names it. Either way the answer is
// the same address, so the report gives it on both. A gateway the engine
// names is never replaced; a bridge without an address in the subnet
// leaves it empty.
func BridgeGateways(rep *probev1.Report) {
	ifcs := map[string]*probev1.Interface{}
	for _, ifc := range rep.GetInterfaces() {
		ifcs[ifc.GetName()] = ifc
	}
	for _, n := range rep.GetEngine().GetNetworks() {
		ifc := ifcs[BridgeName(n)]
		if ifc == nil {
			continue
		}
		for _, s := range n.GetSubnets() {
			if s.GetGateway() != "" {
				continue
			}
			subnet, err := netip.ParsePrefix(s.GetSubnet())
			if err != nil {
				continue
			}
			for _, a := range ifc.GetAddresses() {
				if p, err := netip.ParsePrefix(a.GetCidr()); err == nil && subnet.Contains(p.Addr()) {
					s.Gateway = p.Addr().String()
					break
				}
			}
		}
	}
}
