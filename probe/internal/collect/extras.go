package collect

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/dockprobe/dockprobe/probe/internal/mounts"
	"github.com/dockprobe/dockprobe/probe/internal/names"
	"github.com/dockprobe/dockprobe/probe/internal/netif"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	"github.com/dockprobe/dockprobe/probe/internal/sysinfo"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// The sections that serve the agent's knowledge (issue 3): other
// processes' view of the host shares, containers' ends of their links, and
// the special names in the target's own files.
const (
	SectionMountViews     = "mountViews"
	SectionContainerLinks = "containerLinks"
	SectionNames          = "names"
)

// SpecialNames are the names Docker Desktop gives containers.
var SpecialNames = []string{"host.docker.internal", "gateway.docker.internal", "kubernetes.docker.internal"}

// ShareRoots are the mount point prefixes whose views the probe compares:
// Docker Desktop's host shares. Nothing else of another process's mount
// table is reported.
var ShareRoots = []string{"/run/desktop/mnt/host/", "/mnt/host/"}

// maxContainers bounds the namespaces the probe enters for container links.
const maxContainers = 64

// extras starts the knowledge sections; scanned is the interesting
// processes, pid the target.
func (c *collector) extras(pid int, scanned []procs.Process) {
	go c.send(SectionMountViews, 0, func() (func(*probev1.Report), error) {
		v, err := c.mountViews(pid, scanned)
		return func(r *probev1.Report) { r.MountViews = v }, err
	})
	go c.send(SectionContainerLinks, 0, func() (func(*probev1.Report), error) {
		l, err := c.containerLinks(pid, scanned)
		return func(r *probev1.Report) { r.ContainerLinks = l }, err
	})
	go c.send(SectionNames, 0, func() (func(*probev1.Report), error) {
		n, err := c.names(pid)
		return func(r *probev1.Report) { r.Names = n }, err
	})
}

// mountViews reads the host-share mounts of one process per distinct mount
// namespace among the daemons (dockerd, containerd, kubelet) that share the
// target's network namespace (Docker Desktop runs them all on the VM's
// network; another engine on the same host does not), the target's first.
// A process whose mount namespace was already read is listed without
// mounts, so the agent can say "containerd sees the same".
func (c *collector) mountViews(target int, scanned []procs.Process) ([]*probev1.MountView, error) {
	cands := []procs.Process{{PID: target, Comm: "target"}}
	targetNet, _ := c.fsys.Readlink(target, "ns/net")
	for _, p := range scanned {
		switch p.Comm {
		case "dockerd", "containerd", "kubelet", "k3s-server", "k3s-agent":
			if net, _ := c.fsys.Readlink(p.PID, "ns/net"); targetNet != "" && net != targetNet {
				continue
			}
			cands = append(cands, p)
		}
	}
	var out []*probev1.MountView
	seen := map[string]bool{}
	for _, p := range cands {
		ns, _ := c.fsys.Readlink(p.PID, "ns/mnt")
		if p.Comm == "target" {
			comm, err := c.fsys.ReadProcFile(p.PID, "comm")
			if err == nil {
				p.Comm = strings.TrimSpace(string(comm))
			}
		} else if p.PID == target {
			continue
		}
		v := &probev1.MountView{Pid: int32(p.PID), Comm: p.Comm, MntNamespace: ns}
		if ns != "" && seen[ns] {
			// Same namespace as one already read: same mounts.
			out = append(out, v)
			continue
		}
		seen[ns] = true
		var ms []*probev1.Mount
		var err error
		if p.PID == target && c.targetMounts != nil {
			// The mounts section's parse, shared (read-only here).
			ms, err = c.targetMounts()
		} else {
			ms, err = mounts.Read(c.fsys, p.PID)
		}
		if err != nil {
			v.Error = err.Error()
		}
		for _, m := range ms {
			if isShare(m.GetMountPoint()) {
				v.Mounts = append(v.Mounts, m)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func isShare(mp string) bool {
	for _, r := range ShareRoots {
		if strings.HasPrefix(mp+"/", r) {
			return true
		}
	}
	return false
}

// containerLinks lists, for each container process (a child of a
// containerd shim), the non-loopback interfaces of its network namespace.
// A shim child in the target's own network namespace is skipped: its links
// are the VM's, not a container's. That is a --network host container, and
// also, for a moment at every container start, the `runc start` the shim
// runs, which the probe's own start (--prefetch collects at once) meets.
func (c *collector) containerLinks(target int, scanned []procs.Process) ([]*probev1.ContainerLink, error) {
	targetNS, _ := c.fsys.Readlink(target, "ns/net")
	shims := map[int]string{}
	for _, p := range scanned {
		if strings.HasPrefix(p.Comm, "containerd-shim") {
			shims[p.PID] = argValue(p.Argv, "-id")
		}
	}
	if len(shims) == 0 {
		return nil, nil
	}
	// The scan's table: no second pass over /proc.
	children := c.table.Children(func(ppid int) bool { _, ok := shims[ppid]; return ok })
	var out []*probev1.ContainerLink
	seenNS := map[string]bool{}
	for _, p := range children {
		id := shims[p.PPID]
		if strings.HasPrefix(p.Comm, "containerd-shim") {
			continue
		}
		if len(out) >= maxContainers {
			break
		}
		ns, _ := c.fsys.Readlink(p.PID, "ns/net")
		if ns == "" || seenNS[ns] || ns == targetNS || c.fsys.SharesNamespace(p.PID, "net") {
			continue
		}
		seenNS[ns] = true
		links := c.linksOf(p.PID)
		for _, l := range links {
			l.ContainerId = id
		}
		out = append(out, links...)
	}
	return out, nil
}

func (c *collector) linksOf(pid int) []*probev1.ContainerLink {
	h, err := netif.Open(c.fsys, pid)
	if err != nil {
		return []*probev1.ContainerLink{{Pid: int32(pid), Error: err.Error()}}
	}
	defer h.Close()
	ifs, err := h.Interfaces()
	if err != nil {
		return []*probev1.ContainerLink{{Pid: int32(pid), Error: err.Error()}}
	}
	var out []*probev1.ContainerLink
	for _, i := range ifs {
		if i.GetName() == "lo" {
			continue
		}
		l := &probev1.ContainerLink{Pid: int32(pid), Ifname: i.GetName(), Ifindex: i.GetIndex(), PeerIndex: i.GetPeerIndex()}
		for _, a := range i.GetAddresses() {
			l.Addresses = append(l.Addresses, a.GetCidr())
		}
		out = append(out, l)
	}
	return out
}

// argValue returns the value after flag in argv ("-id x" or "-id=x").
func argValue(argv []string, flag string) string {
	for i, a := range argv {
		if a == flag && i+1 < len(argv) {
			return argv[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// DNSTimeout bounds the DNS lookups of the special names, all together.
const DNSTimeout = 2 * time.Second

// names looks the special names up in the target's /etc/hosts, then asks
// the first nameserver of the target's resolv.conf from inside the
// target's network namespace: what a container on the default bridge,
// which inherits that resolv.conf, would get. The probe's own --network
// none does not matter: the socket lives in the target's namespace.
func (c *collector) names(pid int) ([]*probev1.NameLookup, error) {
	out, err := c.namesInHosts(pid)
	out = append(out, c.namesInDNS(pid)...)
	return out, err
}

func (c *collector) namesInDNS(pid int) []*probev1.NameLookup {
	fail := func(source, msg string) []*probev1.NameLookup {
		var out []*probev1.NameLookup
		for _, n := range SpecialNames {
			out = append(out, &probev1.NameLookup{Name: n, Source: source, Error: msg})
		}
		return out
	}
	b, err := c.fsys.ReadInRoot(pid, "/etc/resolv.conf", 64<<10)
	if err != nil {
		return fail("dns", "no resolv.conf: "+err.Error())
	}
	rc, _ := sysinfo.ParseResolvConf(bytes.NewReader(b))
	var server netip.Addr
	for _, ns := range rc.Nameservers {
		if a, err := netip.ParseAddr(ns); err == nil && a.Is4() {
			server = a
			break
		}
	}
	if !server.IsValid() {
		return fail("dns", "no IPv4 nameserver in resolv.conf")
	}
	source := "dns " + server.String() + " (the target's resolv.conf)"
	if c.fsys.SharesNamespace(pid, "net") {
		return fail(source, "not asked: the target shares the probe's network namespace")
	}
	if ok, err := c.onLink(pid, server); !ok {
		// Only a resolver on the VM's own link (Docker Desktop's
		// 192.168.65.7) is asked, never one across a router.
		msg := "not asked: " + server.String() + " is not on the VM's own link"
		if err != nil {
			msg = "not asked: " + err.Error()
		}
		return fail(source, msg)
	}
	conn, err := names.Listen(c.fsys, pid)
	if err != nil {
		return fail(source, err.Error())
	}
	defer conn.Close()
	var out []*probev1.NameLookup
	for _, r := range names.Query(conn, netip.AddrPortFrom(server, 53), SpecialNames, time.Now().Add(DNSTimeout)) {
		out = append(out, &probev1.NameLookup{Name: r.Name, Addresses: r.Addresses, Source: source, Error: r.Err,
			Milliseconds: float64(r.Elapsed.Microseconds()) / 1000})
	}
	return out
}

// onLink reports whether addr is in a subnet of one of pid's network
// namespace's interfaces (not loopback): a resolver there is the VM's own.
func (c *collector) onLink(pid int, addr netip.Addr) (bool, error) {
	h, err := netif.Open(c.fsys, pid)
	if err != nil {
		return false, err
	}
	defer h.Close()
	ifs, err := h.Interfaces()
	if err != nil {
		return false, err
	}
	for _, i := range ifs {
		for _, a := range i.GetAddresses() {
			p, err := netip.ParsePrefix(a.GetCidr())
			if err == nil && !p.Addr().IsLoopback() && p.Bits() < 32 && p.Masked().Contains(addr) {
				return true, nil
			}
		}
	}
	return false, nil
}

// namesInHosts looks the special names up in the target's /etc/hosts.
func (c *collector) namesInHosts(pid int) ([]*probev1.NameLookup, error) {
	start := time.Now()
	b, err := c.fsys.ReadInRoot(pid, "/etc/hosts", 64<<10)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		var out []*probev1.NameLookup
		for _, n := range SpecialNames {
			out = append(out, &probev1.NameLookup{Name: n, Source: "target /etc/hosts", Error: "no /etc/hosts"})
		}
		return out, err
	}
	entries, perr := sysinfo.ParseHosts(bytes.NewReader(b))
	ms := float64(time.Since(start).Microseconds()) / 1000
	var out []*probev1.NameLookup
	for _, n := range SpecialNames {
		l := &probev1.NameLookup{Name: n, Source: "target /etc/hosts", Milliseconds: ms}
		for _, e := range entries {
			if slices.ContainsFunc(e.GetNames(), func(x string) bool { return strings.EqualFold(x, n) }) {
				l.Addresses = append(l.Addresses, e.GetAddress())
			}
		}
		if len(l.Addresses) == 0 {
			l.Error = "not in /etc/hosts"
		}
		out = append(out, l)
	}
	if perr != nil {
		return out, fmt.Errorf("target /etc/hosts: %w", perr)
	}
	return out, nil
}
