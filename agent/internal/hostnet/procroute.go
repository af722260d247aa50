package hostnet

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrParse marks a malformed route table.
var ErrParse = errors.New("malformed route table")

// ParseProcRoute parses Linux's /proc/net/route: a header line, then
// tab-separated Iface Destination Gateway Flags RefCnt Use Metric Mask MTU
// Window IRTT, addresses as little-endian hex.
func ParseProcRoute(r io.Reader) ([]*probev1.Route, error) {
	sc := bufio.NewScanner(r)
	var out []*probev1.Route
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.HasPrefix(line, "Iface") {
				continue
			}
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return out, fmt.Errorf("%w: %d fields, want 11: %q", ErrParse, len(f), line)
		}
		dst, err1 := hexIPv4(f[1])
		gw, err2 := hexIPv4(f[2])
		mask, err3 := hexIPv4(f[7])
		metric, err4 := strconv.Atoi(f[6])
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return out, fmt.Errorf("%w: %q: %w", ErrParse, line, err)
		}
		m := mask.As4()
		ones := bits.OnesCount32(binary.BigEndian.Uint32(m[:]))
		rt := &probev1.Route{Family: "inet", Device: f[0], Metric: int32(metric), Table: 254}
		if ones == 0 && dst.IsUnspecified() {
			rt.Destination = "default"
		} else {
			rt.Destination = netip.PrefixFrom(dst, ones).String()
		}
		if !gw.IsUnspecified() {
			rt.Gateway = gw.String()
		}
		out = append(out, rt)
	}
	return out, sc.Err()
}

func hexIPv4(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("address %q: not 8 hex digits", s)
	}
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), nil
}
