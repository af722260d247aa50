package knowledge

import (
	"fmt"
	"net/netip"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Docker Desktop's defaults.
const (
	DefaultDesktopSubnet = "192.168.65.0/24"
	// HostGatewayNew is --host-gateway-ip in current Docker Desktop;
	// HostGatewayOld in versions before 4.x moved it to .254.
	HostGatewayNew = "192.168.65.254"
	HostGatewayOld = "192.168.65.2"
)

// FlagValue returns the last value of dockerd flag name (without dashes).
func FlagValue(d *probev1.Daemon, name string) (string, bool) {
	fl := d.GetFlags()
	for i := len(fl) - 1; i >= 0; i-- {
		if strings.TrimLeft(fl[i].GetName(), "-") == name && fl[i].GetHasValue() {
			return fl[i].GetValue(), true
		}
	}
	return "", false
}

// Interface returns the report's interface called name.
func Interface(rep *probev1.Report, name string) *probev1.Interface {
	for _, i := range rep.GetInterfaces() {
		if i.GetName() == name {
			return i
		}
	}
	return nil
}

// FirstIPv4 returns an interface's first IPv4 prefix.
func FirstIPv4(ifc *probev1.Interface) (netip.Prefix, bool) {
	for _, a := range ifc.GetAddresses() {
		if p, err := netip.ParsePrefix(a.GetCidr()); err == nil && p.Addr().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// DeriveDockerSubnet works out the Docker subnet from what is really
// there: eth0's address first, then the --swarm-default-advertise-addr and
// --host-gateway-ip flags. It returns nil when nothing points at one.
// settingsSubnet is what Docker Desktop's settings ask for ("" unknown).
func DeriveDockerSubnet(rep *probev1.Report, settingsSubnet string) *probev1.DockerSubnet {
	if !DesktopShaped(rep) {
		// On plain Linux eth0 is the LAN: there is no Docker subnet.
		return nil
	}
	ds := &probev1.DockerSubnet{SettingsSubnet: settingsSubnet}
	var subnet netip.Prefix
	if eth0 := Interface(rep, "eth0"); eth0 != nil {
		if p, ok := FirstIPv4(eth0); ok {
			subnet = p.Masked()
			ds.VmAddress = p.Addr().String()
			ds.Sources = append(ds.Sources, "interface eth0 "+p.String())
		}
	}
	if v, ok := FlagValue(rep.GetDaemon(), "swarm-default-advertise-addr"); ok {
		ds.Sources = append(ds.Sources, "dockerd --swarm-default-advertise-addr="+v)
		if a, err := netip.ParseAddr(v); err == nil && ds.VmAddress == "" {
			ds.VmAddress = a.String()
		}
	}
	if v, ok := FlagValue(rep.GetDaemon(), "host-gateway-ip"); ok {
		ds.Sources = append(ds.Sources, "dockerd --host-gateway-ip "+v)
		ds.HostAddress = v
	} else if ip := rep.GetEngine().GetHostGatewayIp(); ip != "" {
		ds.HostAddress = ip
		ds.Sources = append(ds.Sources, "engine host-gateway "+ip)
	}
	for _, r := range rep.GetRoutes() {
		if r.GetDestination() == "default" && r.GetDevice() == "eth0" && r.GetGateway() != "" && (r.GetTable() == 0 || r.GetTable() == 254) {
			ds.Gateway = r.GetGateway()
			ds.Sources = append(ds.Sources, "route default via "+r.GetGateway()+" dev eth0")
			break
		}
	}
	if !subnet.IsValid() {
		// Without eth0, assume a /24 around the VM or host address, as
		// Docker Desktop's settings only offer whole ranges.
		for _, s := range []string{ds.VmAddress, ds.HostAddress} {
			if a, err := netip.ParseAddr(s); err == nil && a.Is4() && a.IsPrivate() {
				subnet = netip.PrefixFrom(a, 24).Masked()
				ds.Sources = append(ds.Sources, fmt.Sprintf("assumed /24 around %s (no eth0 address)", a))
				break
			}
		}
	}
	if !subnet.IsValid() {
		return nil
	}
	ds.Subnet = subnet.String()
	ds.IsDefault = ds.Subnet == DefaultDesktopSubnet
	return ds
}

// DesktopShaped reports whether the engine runs the way Docker Desktop's
// does: its OS says so, or dockerd has Desktop's flags, or the VM has
// services1.
func DesktopShaped(rep *probev1.Report) bool {
	if strings.Contains(rep.GetEngine().GetOs(), "Docker Desktop") {
		return true
	}
	if v, _ := FlagValue(rep.GetDaemon(), "config-file"); v == DesktopDefaults["config-file"] {
		return true
	}
	if _, ok := FlagValue(rep.GetDaemon(), "host-gateway-ip"); ok {
		if _, ok := FlagValue(rep.GetDaemon(), "swarm-default-advertise-addr"); ok {
			return true
		}
	}
	return Interface(rep, "services1") != nil
}

// Overlap reports whether two prefixes share any address.
func Overlap(a, b netip.Prefix) bool {
	return a.Overlaps(b)
}

// ParsePrefix parses a CIDR, accepting a bare address as a host prefix.
func ParsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
