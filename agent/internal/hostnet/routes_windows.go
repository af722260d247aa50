package hostnet

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/windows"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Routes reads the IPv4 route table with GetIpForwardTable2.
func Routes() ([]*probev1.Route, error) {
	var table *windows.MibIpForwardTable2
	if err := windows.GetIpForwardTable2(windows.AF_INET, &table); err != nil {
		return nil, fmt.Errorf("GetIpForwardTable2: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(table))
	names := map[int]string{}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			names[i.Index] = i.Name
		}
	}
	var out []*probev1.Route
	for _, row := range table.Rows() {
		dst, ok := inet4(&row.DestinationPrefix.Prefix)
		if !ok {
			continue
		}
		ones := int(row.DestinationPrefix.PrefixLength)
		r := &probev1.Route{Family: "inet", Device: names[int(row.InterfaceIndex)], Metric: int32(row.Metric)}
		if ones == 0 && dst.IsUnspecified() {
			r.Destination = "default"
		} else {
			r.Destination = netip.PrefixFrom(dst, ones).Masked().String()
		}
		if gw, ok := inet4(&row.NextHop); ok && !gw.IsUnspecified() {
			r.Gateway = gw.String()
		}
		out = append(out, r)
	}
	return out, nil
}

// inet4 reads an IPv4 SOCKADDR_INET: family, port, then the address.
func inet4(sa *windows.RawSockaddrInet) (netip.Addr, bool) {
	if sa.Family != windows.AF_INET {
		return netip.Addr{}, false
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], sa.Data[0])
	return netip.AddrFrom4(b), true
}
