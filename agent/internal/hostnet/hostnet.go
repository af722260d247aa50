// Package hostnet collects the network facts of the machine the agent runs
// on: its interfaces (the standard library's view, on every OS) and its
// IPv4 routes (Linux: /proc/net/route; macOS: the routing socket's dump;
// Windows: GetIpForwardTable2), without cgo. These are the routes that may
// collide with the Docker subnet inside the VM (a VPN's, typically).
package hostnet

import (
	"errors"
	"net"
	"runtime"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrUnsupported marks an OS whose route table hostnet cannot read.
var ErrUnsupported = errors.New("reading the route table is not supported on this OS")

// Collect returns the host's interfaces and routes; a part that fails is
// listed in Host.errors and the other is kept.
func Collect() *probev1.Host {
	h := &probev1.Host{Os: runtime.GOOS, Arch: runtime.GOARCH}
	ifs, err := Interfaces()
	if err != nil {
		h.Errors = append(h.Errors, &probev1.SectionError{Section: "host.interfaces", Message: err.Error(), Code: "Internal"})
	}
	h.Interfaces = ifs
	rs, err := Routes()
	if err != nil {
		code := "Internal"
		if errors.Is(err, ErrUnsupported) {
			code = "Unimplemented"
		}
		h.Errors = append(h.Errors, &probev1.SectionError{Section: "host.routes", Message: err.Error(), Code: code})
	}
	h.Routes = rs
	return h
}

// Interfaces lists the host's interfaces with their addresses.
func Interfaces() ([]*probev1.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []*probev1.Interface
	for _, i := range ifs {
		pi := &probev1.Interface{Name: i.Name, Index: int32(i.Index), Mtu: int32(i.MTU), Mac: i.HardwareAddr.String()}
		for _, f := range strings.Split(i.Flags.String(), "|") {
			if f != "0" && f != "" {
				pi.Flags = append(pi.Flags, f)
			}
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			fam := "inet"
			if ipn.IP.To4() == nil {
				fam = "inet6"
			}
			pi.Addresses = append(pi.Addresses, &probev1.Address{
				Family: fam, Cidr: (&net.IPNet{IP: ipn.IP, Mask: ipn.Mask}).String(), Address: ipn.IP.String(), PrefixLength: int32(ones),
			})
			// IPNet.String masks the address; keep the host's own.
			last := pi.Addresses[len(pi.Addresses)-1]
			last.Cidr = ipn.IP.String() + "/" + itoa(ones)
		}
		out = append(out, pi)
	}
	return out, nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
