package redact

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Anonymizer replaces identities with consistent pseudonyms: hostnames
// (host-1, host-2...), user names in home paths (user-1...), MAC addresses
// and IP addresses outside Docker's own ranges. An address keeps its place
// in its subnet: every address of one subnet maps into one fake subnet of
// the same size (from 240.0.0.0/4, which no real network uses), so a
// gateway stays the .1 of its network. Docker's ranges (192.168.65.0/24,
// 172.16.0.0/12, 10.1.0.0/16, the engine's own network subnets, loopback,
// link-local, netmasks) stay readable.
//
// The mapping (Mapping) is for the person who ran the tool: write it only
// to a local file, never into a report or bundle.
type Anonymizer struct {
	mu       sync.Mutex
	keep     []netip.Prefix
	known    []netip.Prefix // the report's subnets, outermost first
	nets     map[netip.Prefix]netip.Prefix
	next4    uint32
	next6    uint64
	hosts    map[string]string
	users    map[string]string
	macs     map[string]string
	fakes    map[string]bool
	hostRE   *regexp.Regexp
	mappings map[string]map[string]string
}

// dockerRanges stay readable: the Docker subnet, the bridge pools, the
// Kubernetes cni0 range, and addresses that identify nobody.
var dockerRanges = []netip.Prefix{
	netip.MustParsePrefix("192.168.65.0/24"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("10.1.0.0/16"),
	netip.MustParsePrefix("10.96.0.0/12"), // Kubernetes services
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"), // where the pseudonyms live
	netip.MustParsePrefix("0.0.0.0/32"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
	netip.MustParsePrefix("fd00:dead::/32"), // IPv6 pseudonyms
}

// keepHosts are names that identify nobody.
var keepHosts = map[string]bool{
	"": true, "localhost": true, "docker-desktop": true, "host.docker.internal": true,
	"gateway.docker.internal": true, "kubernetes.docker.internal": true, "ip6-localhost": true,
	"ip6-loopback": true, "linuxkit": true,
}

// NewAnonymizer returns an Anonymizer with no pseudonyms yet.
func NewAnonymizer() *Anonymizer {
	return &Anonymizer{
		keep:  slices.Clone(dockerRanges),
		nets:  map[netip.Prefix]netip.Prefix{},
		next4: 0xF0000000, // 240.0.0.0
		hosts: map[string]string{}, users: map[string]string{}, macs: map[string]string{},
		fakes: map[string]bool{},
	}
}

// Learn takes the report's subnets (to map whole subnets) and hostnames
// (to replace them wherever they appear). Call it before scrubbing raw
// files that belong to the same report.
func (a *Anonymizer) Learn(r *probev1.Report) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range r.GetEngine().GetNetworks() {
		for _, s := range n.GetSubnets() {
			if p, err := netip.ParsePrefix(s.GetSubnet()); err == nil {
				a.keep = append(a.keep, p.Masked())
			}
		}
	}
	var prefixes []netip.Prefix
	add := func(cidr string) {
		if p, err := netip.ParsePrefix(cidr); err == nil && p.Bits() > 0 && !a.kept(p.Addr()) {
			prefixes = append(prefixes, p.Masked())
		}
	}
	for _, ifc := range r.GetInterfaces() {
		for _, ad := range ifc.GetAddresses() {
			add(ad.GetCidr())
		}
	}
	for _, rt := range r.GetRoutes() {
		add(rt.GetDestination())
	}
	a.known = append(a.known, prefixes...)
	// Outermost (shortest) first, so nested subnets map inside their parent.
	slices.SortStableFunc(a.known, func(x, y netip.Prefix) int { return x.Bits() - y.Bits() })
	for _, h := range []string{r.GetEngine().GetName(), r.GetTarget().GetHostname(), r.GetContainer().GetHostname()} {
		a.hostLocked(h)
	}
}

func (a *Anonymizer) kept(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.keep {
		if p.Contains(ip) {
			return true
		}
	}
	// Netmasks (255.255.255.0) are not addresses.
	if ip.Is4() {
		b := ip.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if v != 0 && (^v)&((^v)+1) == 0 && v>>31 == 1 {
			return true
		}
	}
	return false
}

func (a *Anonymizer) hostLocked(h string) string {
	h = strings.TrimSpace(h)
	if keepHosts[strings.ToLower(h)] || a.fakes[h] || len(h) < 3 {
		return h
	}
	if f, ok := a.hosts[h]; ok {
		return f
	}
	f := fmt.Sprintf("host-%d", len(a.hosts)+1)
	a.hosts[h] = f
	a.fakes[f] = true
	a.hostRE = nil
	return f
}

// Host returns the pseudonym of a hostname.
func (a *Anonymizer) Host(h string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hostLocked(h)
}

var (
	ipv4RE = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)
	ipv6RE = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{1,4}:){2,7}(?::|[0-9a-f]{1,4})(?:[0-9a-f:]*)\b`)
	macRE  = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b`)
	userRE = regexp.MustCompile(`(?i)((?:/home/|/Users/|[A-Z]:\\Users\\|/mnt/host/[a-z]/Users/|/run/desktop/mnt/host/[a-z]/Users/|/mnt/[a-z]/Users/)|(?:^|[\s=])(?:USER|LOGNAME|USERNAME)=)([A-Za-z0-9._-]+)`)
)

// String replaces identities in s.
func (a *Anonymizer) String(s string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s = macRE.ReplaceAllStringFunc(s, a.mac)
	s = replaceAddrs(s, ipv4RE, a.ip)
	s = replaceAddrs(s, ipv6RE, a.ip)
	s = userRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := userRE.FindStringSubmatch(m)
		return sub[1] + a.user(sub[2])
	})
	if len(a.hosts) > 0 {
		if a.hostRE == nil {
			names := make([]string, 0, len(a.hosts))
			for h := range a.hosts {
				names = append(names, regexp.QuoteMeta(h))
			}
			// Longest first, so "vm.corp.example" wins over "vm".
			slices.SortFunc(names, func(x, y string) int { return len(y) - len(x) })
			a.hostRE = regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
		}
		s = a.hostRE.ReplaceAllStringFunc(s, func(m string) string { return a.hosts[m] })
	}
	return s
}

func (a *Anonymizer) user(u string) string {
	lu := strings.ToLower(u)
	if lu == "public" || lu == "default" || lu == "root" || lu == "all users" || lu == "docker" || a.fakes[u] {
		return u
	}
	if f, ok := a.users[u]; ok {
		return f
	}
	f := fmt.Sprintf("user-%d", len(a.users)+1)
	a.users[u] = f
	a.fakes[f] = true
	return f
}

func (a *Anonymizer) mac(m string) string {
	lm := strings.ToLower(m)
	if a.fakes[lm] || lm == "00:00:00:00:00:00" || lm == "ff:ff:ff:ff:ff:ff" {
		return m
	}
	if f, ok := a.macs[lm]; ok {
		return f
	}
	n := len(a.macs) + 1
	f := fmt.Sprintf("0a:00:00:00:%02x:%02x", n>>8&0xff, n&0xff)
	a.macs[lm] = f
	a.fakes[f] = true
	return f
}

func (a *Anonymizer) ip(s string) string {
	ip, err := netip.ParseAddr(s)
	if err != nil || a.kept(ip) {
		return s
	}
	ip = ip.Unmap()
	// The outermost known subnet holding it, else its /24 (/64).
	var p netip.Prefix
	for _, k := range a.known {
		if k.Contains(ip) {
			p = k
			break
		}
	}
	if !p.IsValid() {
		bits := 24
		if ip.Is6() {
			bits = 64
		}
		p, _ = ip.Prefix(bits)
	}
	fake, ok := a.nets[p]
	if !ok {
		fake = a.allocate(p)
		a.nets[p] = fake
	}
	// Keep the host part.
	src, dst := ip.AsSlice(), fake.Addr().AsSlice()
	for i := range dst {
		bitsBefore := i * 8
		switch {
		case bitsBefore >= p.Bits():
			dst[i] = src[i]
		case bitsBefore+8 > p.Bits():
			hostMask := byte(0xff >> (p.Bits() - bitsBefore))
			dst[i] = dst[i]&^hostMask | src[i]&hostMask
		}
	}
	out, _ := netip.AddrFromSlice(dst)
	return out.String()
}

// allocate returns the next fake subnet as large as p.
func (a *Anonymizer) allocate(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4() {
		bits := max(p.Bits(), 8)
		size := uint32(1) << (32 - bits)
		// Align, then take the block.
		a.next4 = (a.next4 + size - 1) &^ (size - 1)
		base := a.next4
		a.next4 += size
		if a.next4 < 0xF0000000 { // wrapped: start over (still consistent per run)
			a.next4 = 0xF0000000
		}
		addr := netip.AddrFrom4([4]byte{byte(base >> 24), byte(base >> 16), byte(base >> 8), byte(base)})
		return netip.PrefixFrom(addr, bits)
	}
	a.next6++
	var b [16]byte
	copy(b[:], []byte{0xfd, 0x00, 0xde, 0xad})
	for i := 0; i < 4; i++ {
		b[7-i] = byte(a.next6 >> (8 * i))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), max(p.Bits(), 64))
}

// Mapping is the real-to-pseudonym table, for the local mapping file only.
func (a *Anonymizer) Mapping() map[string]map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	nets := map[string]string{}
	for k, v := range a.nets {
		nets[k.String()] = v.String()
	}
	return map[string]map[string]string{
		"subnets": nets, "hostnames": clone(a.hosts), "users": clone(a.users), "macs": clone(a.macs),
	}
}

// MappingJSON is Mapping as indented JSON.
func (a *Anonymizer) MappingJSON() []byte {
	b, _ := json.MarshalIndent(a.Mapping(), "", "  ")
	return append(b, '\n')
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// replaceAddrs replaces the matches of re that stand alone: a version
// string such as 5.15.133.1-microsoft is not an address.
func replaceAddrs(s string, re *regexp.Regexp, f func(string) string) string {
	idx := re.FindAllStringIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		before, after := byte(' '), byte(' ')
		if m[0] > 0 {
			before = s[m[0]-1]
		}
		if m[1] < len(s) {
			after = s[m[1]]
		}
		if isWordish(before) || before == '.' || after == '-' || after == '.' && m[1]+1 < len(s) && isDigit(s[m[1]+1]) || isLetter(after) {
			continue
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(f(s[m[0]:m[1]]))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isLetter(c byte) bool  { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isWordish(c byte) bool { return isLetter(c) || c == '_' }
