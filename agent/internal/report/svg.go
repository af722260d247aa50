package report

import (
	"encoding/xml"
	"fmt"
	"github.com/dockprobe/dockprobe/agent/internal/knowledge"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// The network picture (issue 13): one SVG drawn from the report, with no
// script and no external reference, readable in a bug tracker. Three
// columns: the host (its default-route interface, its other routes —
// typically a VPN's — and the drive shares), the VM (eth0 with the Docker
// subnet, gateway and host.docker.internal; services1; cni0), and the
// Docker bridge networks with their subnets and containers. What a finding
// flags (an overlap, an MTU problem, a share that is not shared) is drawn
// in that finding's colour; the rest in neutral grey.

// Severity colours, the HTML report's.
var sevColour = map[string]string{"error": "#cf222e", "warning": "#bf8700", "info": "#0969da", "ok": "#1a7f37"}

const (
	neutral    = "#8c959f"
	lineHeight = 17
	svgWidth   = 1160
)

// SVG writes the network picture as a standalone SVG document.
func SVG(w io.Writer, r *probev1.Report) error {
	if r == nil {
		r = &probev1.Report{}
	}
	if _, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+NetworkPicture(r)+"\n"); err != nil {
		return fmt.Errorf("write SVG: %w", err)
	}
	return nil
}

// flags is what the findings single out, with their colours.
type flags struct {
	overlap   map[string]string // prefix or host route destination -> colour
	mtu       map[string]string // VM interface or network name -> colour
	mtuColour string            // the MTU finding's colour when it flags any
	shares    string            // colour of the shares finding when not ok
	shareWarn bool
}

var (
	overlapRe = regexp.MustCompile(`(\S+/\d+) overlaps host route (\S+)`)
	mtuRe     = regexp.MustCompile(`(?:network )?([^\s,:()]+) \(\d+\)`)
)

func findingFlags(r *probev1.Report) flags {
	f := flags{overlap: map[string]string{}, mtu: map[string]string{}}
	for _, fd := range r.GetFindings() {
		c := sevColour[fd.GetSeverity()]
		if fd.GetStatus() == "skip" || fd.GetSeverity() == "ok" || fd.GetSeverity() == "info" {
			continue
		}
		switch fd.GetId() {
		case "net.host-overlap", "net.next-subnet":
			for _, e := range fd.GetEvidence() {
				if m := overlapRe.FindStringSubmatch(e); m != nil {
					f.overlap[m[1]], f.overlap[m[2]] = c, c
				}
			}
		case "net.mtu":
			head, _, _ := strings.Cut(fd.GetSummary(), ": ")
			for _, m := range mtuRe.FindAllStringSubmatch(head, -1) {
				f.mtu[m[1]] = c
			}
			f.mtuColour = c
		case "shares.k8s-hostpath":
			f.shares, f.shareWarn = c, true
		}
	}
	return f
}

// svgBox is one rounded box: a title and lines, each line with an
// optional colour.
type svgBox struct {
	id, title, colour string
	lines             []svgLine
	x, y, w           int
}

type svgLine struct{ text, colour string }

func (b *svgBox) add(colour, format string, args ...any) {
	b.lines = append(b.lines, svgLine{fmt.Sprintf(format, args...), colour})
}

func (b *svgBox) height() int { return 28 + lineHeight*len(b.lines) + 6 }

func esc(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// clip keeps a line inside its box (about 7 px per character at 12 px).
func clip(s string, width int) string {
	max := (width - 16) / 7
	if r := []rune(s); len(r) > max && max > 1 {
		return string(r[:max-1]) + "…"
	}
	return s
}

func (b *svgBox) render(sb *strings.Builder) {
	stroke := b.colour
	if stroke == "" {
		stroke = neutral
	}
	fmt.Fprintf(sb, `<g id="%s"><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="#ffffff" stroke="%s" stroke-width="2"/>`,
		esc(b.id), b.x, b.y, b.w, b.height(), stroke)
	fmt.Fprintf(sb, `<text x="%d" y="%d" font-weight="bold">%s</text>`, b.x+8, b.y+19, esc(clip(b.title, b.w)))
	for i, l := range b.lines {
		fill := "#1b1f24"
		if l.colour != "" {
			fill = l.colour
		}
		fmt.Fprintf(sb, `<text x="%d" y="%d" fill="%s">%s</text>`, b.x+8, b.y+28+lineHeight*(i+1)-4, fill, esc(clip(l.text, b.w)))
	}
	sb.WriteString("</g>")
}

func firstV4(ifc *probev1.Interface) string {
	for _, a := range ifc.GetAddresses() {
		if p, err := netip.ParsePrefix(a.GetCidr()); err == nil && p.Addr().Is4() {
			return a.GetCidr()
		}
	}
	return ""
}

func masked(cidr string) string {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Masked().String()
	}
	return ""
}

// otherHostRoutes are the host's routes worth drawing: not default,
// loopback, link-local, multicast or broadcast.
func otherHostRoutes(h *probev1.Host) []*probev1.Route {
	var out []*probev1.Route
	for _, rt := range h.GetRoutes() {
		p, err := netip.ParsePrefix(rt.GetDestination())
		if err != nil || !p.Addr().Is4() || p.Bits() == 0 || p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() || p.Bits() == 32 && p.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			continue
		}
		out = append(out, rt)
	}
	return out
}

func hostDefault(h *probev1.Host) (*probev1.Route, *probev1.Interface) {
	var best *probev1.Route
	for _, rt := range h.GetRoutes() {
		if d := rt.GetDestination(); (d == "default" || d == "0.0.0.0/0") && (best == nil || rt.GetMetric() < best.GetMetric()) {
			best = rt
		}
	}
	for _, i := range h.GetInterfaces() {
		if best != nil && i.GetName() == best.GetDevice() {
			return best, i
		}
	}
	return best, nil
}

func vmInterface(r *probev1.Report, name string) *probev1.Interface {
	for _, i := range r.GetInterfaces() {
		if i.GetName() == name {
			return i
		}
	}
	return nil
}

// attached names the containers whose veth hangs off bridge: by the
// name the agent matched, else the container id, else the veth.
func attached(r *probev1.Report, bridge string) []string {
	byPeer := map[int32]*probev1.ContainerLink{}
	for _, l := range r.GetContainerLinks() {
		byPeer[l.GetPeerIndex()] = l
	}
	var out []string
	for _, i := range r.GetInterfaces() {
		if i.GetMaster() != bridge || bridge == "" {
			continue
		}
		name := i.GetName()
		if l, ok := byPeer[i.GetIndex()]; ok {
			switch {
			case l.GetContainerName() != "":
				name = l.GetContainerName()
			case len(l.GetContainerId()) >= 12:
				name = l.GetContainerId()[:12]
			}
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// NetworkPicture draws the report's network as an <svg> element (no XML
// declaration: the HTML report inlines it).
func NetworkPicture(r *probev1.Report) string {
	fl := findingFlags(r)
	h := r.GetHost()
	k := r.GetKnowledge()
	ds := k.GetDockerSubnet()

	// Column 1: the host and its shares.
	host := &svgBox{id: "host", title: "Host (" + strings.TrimSpace(h.GetOs()+" "+h.GetArch()) + ")", x: 20, y: 50, w: 330}
	defRoute, defIf := hostDefault(h)
	if defRoute == nil {
		host.add("", "no IPv4 default route")
	} else {
		host.add("", "default route via %s dev %s", defRoute.GetGateway(), defRoute.GetDevice())
	}
	if defIf != nil {
		host.add(fl.mtuColour, "%s %s MTU %d", defIf.GetName(), firstV4(defIf), defIf.GetMtu())
	}
	routes := otherHostRoutes(h)
	if len(routes) > 0 {
		host.add("", "other routes (a VPN's, the LAN's):")
	}
	for i, rt := range routes {
		if i == 10 {
			host.add("", "  … %d more", len(routes)-i)
			break
		}
		via := ""
		if rt.GetGateway() != "" {
			via = " via " + rt.GetGateway()
		}
		host.add(fl.overlap[rt.GetDestination()], "  %s%s dev %s", rt.GetDestination(), via, rt.GetDevice())
	}
	for _, p := range h.GetProxies() {
		host.add("", "proxy (%s): %s", p.GetSource(), strings.TrimSpace(p.GetHttpsProxy()+" "+p.GetHttpProxy()))
	}
	shares := &svgBox{id: "shares", title: "Host drive shares", x: 20, w: 330, colour: fl.shares}
	for _, s := range k.GetShares() {
		c := ""
		what := s.GetPropagation() + ": dockerd's namespace only"
		if strings.HasPrefix(s.GetPath(), "/run/desktop/mnt/host/") {
			what = s.GetPropagation() + ": to kubelet and containers"
			if fl.shareWarn {
				c = fl.shares
			}
		}
		drive := s.GetPath()[strings.LastIndexByte(s.GetPath(), '/')+1:]
		if len(drive) == 1 {
			drive = strings.ToUpper(drive) + ":" // a Windows drive letter
		}
		shares.add(c, "%s → %s", drive, s.GetPath())
		shares.add(c, "     %s", what)
	}
	if len(shares.lines) == 0 {
		shares.add("", "none (not Docker Desktop on Windows)")
	}
	shares.y = host.y + host.height() + 24

	// Column 2: the VM.
	t := r.GetTarget()
	vmTitle := "VM: " + strings.TrimSpace(r.GetEngine().GetName()+" "+t.GetOsPrettyName())
	vm := &svgBox{id: "vm", title: vmTitle, x: 400, y: 50, w: 360}
	vm.add("", "%s pid %d, kernel %s", t.GetComm(), t.GetPid(), t.GetKernelRelease())
	if chain := t.GetAncestry(); len(chain) > 0 {
		var names []string
		for _, s := range chain {
			n := fmt.Sprintf("%s(%d)", s.GetComm(), s.GetPid())
			if len(s.GetEnters()) > 0 {
				n += "*"
			}
			names = append(names, n)
		}
		line := ""
		for i, n := range names {
			if i > 0 {
				n = "→ " + n
			}
			if line != "" && len([]rune(line+" "+n)) > (vm.w-16)/7 {
				vm.add("", "%s", line)
				line = ""
			}
			line = strings.TrimSpace(line + " " + n)
		}
		vm.add("", "%s", line)
		vm.add("", "(* enters namespaces of its own)")
	}
	eth0 := &svgBox{id: "eth0", title: "eth0", x: 410, w: 340, colour: fl.mtu["eth0"]}
	if e := vmInterface(r, "eth0"); e != nil {
		eth0.title = fmt.Sprintf("eth0 %s MTU %d", firstV4(e), e.GetMtu())
	}
	if ds != nil {
		eth0.add(fl.overlap[ds.GetSubnet()], "Docker subnet %s", ds.GetSubnet())
		eth0.add("", "gateway %s", ds.GetGateway())
		eth0.add("", "host.docker.internal → %s", ds.GetHostAddress())
	} else if hg := r.GetEngine().GetHostGatewayIp(); hg != "" {
		eth0.add("", "host-gateway → %s", hg)
	}
	var inner []*svgBox
	inner = append(inner, eth0)
	if s := vmInterface(r, "services1"); s != nil {
		b := &svgBox{id: "services1", title: "services1 " + firstV4(s), x: 410, w: 340}
		b.add("", "Docker Desktop's service address")
		inner = append(inner, b)
	}
	if c := vmInterface(r, "cni0"); c != nil {
		b := &svgBox{id: "cni0", title: fmt.Sprintf("cni0 %s MTU %d", firstV4(c), c.GetMtu()), x: 410, w: 340, colour: fl.mtu["cni0"]}
		b.add(fl.overlap[masked(firstV4(c))], "Kubernetes pods %s", masked(firstV4(c)))
		inner = append(inner, b)
	}
	y := vm.y + vm.height() + 6
	for _, b := range inner {
		b.y = y
		y += b.height() + 10
	}
	vmHeight := y - vm.y

	// Column 3: the Docker bridge networks.
	var nets []*svgBox
	y = 50
	for _, n := range r.GetEngine().GetNetworks() {
		br := knowledge.BridgeName(n)
		if br == "" {
			continue
		}
		c := fl.mtu[br]
		if c == "" {
			c = fl.mtu[n.GetName()]
		}
		b := &svgBox{id: "net-" + n.GetName(), title: fmt.Sprintf("%s: network %q", br, n.GetName()), x: 800, y: y, w: 340, colour: c}
		for _, s := range n.GetSubnets() {
			gw := ""
			if s.GetGateway() != "" {
				gw = " gateway " + s.GetGateway()
			}
			b.add(fl.overlap[s.GetSubnet()], "subnet %s%s", s.GetSubnet(), gw)
		}
		if i := vmInterface(r, br); i != nil {
			b.add(c, "MTU %d", i.GetMtu())
		}
		cs := attached(r, br)
		for i, name := range cs {
			if i == 8 {
				b.add("", "  … %d more", len(cs)-i)
				break
			}
			b.add("", "  container %s", name)
		}
		if len(cs) == 0 {
			b.add("", "no container attached")
		}
		nets = append(nets, b)
		y += b.height() + 12
	}
	if len(nets) == 0 {
		b := &svgBox{id: "net-none", title: "Docker networks", x: 800, y: 50, w: 340}
		b.add("", "no bridge network reported")
		nets = append(nets, b)
		y += b.height() + 12
	}

	height := max(shares.y+shares.height(), vm.y+vmHeight, y) + 50
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" id="netpic" role="img" aria-label="network picture" width="%d" height="%d" viewBox="0 0 %d %d" font-family="ui-monospace,SFMono-Regular,Consolas,monospace" font-size="12">`,
		svgWidth, height, svgWidth, height)
	sb.WriteString(`<title>dockprobe: the host, the VM and the Docker networks</title>`)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="#f6f8fa"/>`, svgWidth, height)
	sb.WriteString(`<text x="20" y="30" font-size="15" font-weight="bold" font-family="system-ui,sans-serif">Host</text>`)
	sb.WriteString(`<text x="400" y="30" font-size="15" font-weight="bold" font-family="system-ui,sans-serif">VM where dockerd runs</text>`)
	sb.WriteString(`<text x="800" y="30" font-size="15" font-weight="bold" font-family="system-ui,sans-serif">Docker bridge networks</text>`)
	// Links: the host's default interface to eth0, the VM to each bridge.
	fmt.Fprintf(&sb, `<path d="M%d %d C%d %d %d %d %d %d" stroke="%s" stroke-width="2" fill="none"/>`,
		host.x+host.w, host.y+40, host.x+host.w+30, host.y+40, eth0.x-30, eth0.y+14, eth0.x, eth0.y+14, neutral)
	for _, b := range nets {
		fmt.Fprintf(&sb, `<path d="M%d %d C%d %d %d %d %d %d" stroke="%s" stroke-width="1.5" fill="none"/>`,
			vm.x+vm.w, vm.y+20, vm.x+vm.w+20, vm.y+20, b.x-20, b.y+14, b.x, b.y+14, neutral)
	}
	fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="#eef3f8" stroke="%s" stroke-width="2"/>`, vm.x, vm.y, vm.w, vmHeight, neutral)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" font-weight="bold">%s</text>`, vm.x+8, vm.y+19, esc(clip(vm.title, vm.w)))
	for i, l := range vm.lines {
		fmt.Fprintf(&sb, `<text x="%d" y="%d">%s</text>`, vm.x+8, vm.y+28+lineHeight*(i+1)-4, esc(clip(l.text, vm.w)))
	}
	host.render(&sb)
	shares.render(&sb)
	for _, b := range inner {
		b.render(&sb)
	}
	for _, b := range nets {
		b.render(&sb)
	}
	fmt.Fprintf(&sb, `<text x="20" y="%d" fill="#57606a">grey: nothing found; coloured: what a finding flags (red error, amber warning): overlaps with host routes, MTU above the host path, shares not shared</text>`, height-18)
	sb.WriteString(`</svg>`)
	return sb.String()
}
