package bundle

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// AddRaw adds the raw sources behind the report: the target's mountinfo,
// each process's argv, the daemon config file as read, the interface and
// route dumps and the probe container's /etc/hosts. The probe sends them
// parsed; they are written back in their original text forms, and the
// manifest says so.
func (b *Builder) AddRaw(r *probev1.Report) {
	const from = "probe Collect (reconstructed from the parsed section)"
	if ms := r.GetMounts(); len(ms) > 0 {
		var sb strings.Builder
		for _, m := range ms {
			sb.WriteString(mountinfoLine(m))
		}
		b.Add(fmt.Sprintf("raw/proc/%d/mountinfo", r.GetTarget().GetPid()), from+": /proc/<target>/mountinfo", []byte(sb.String()))
	}
	if d := r.GetDaemon(); len(d.GetArgv()) > 0 {
		b.Add(fmt.Sprintf("raw/proc/%d/cmdline", d.GetPid()), "probe Collect: dockerd's /proc/<pid>/cmdline, one argument per line", argvText(d.GetArgv()))
	}
	for _, p := range r.GetProcesses() {
		if p.GetPid() == r.GetDaemon().GetPid() || len(p.GetArgv()) == 0 {
			continue
		}
		b.Add(fmt.Sprintf("raw/proc/%d/cmdline", p.GetPid()), "probe Collect: /proc/<pid>/cmdline of "+p.GetComm()+", one argument per line", argvText(p.GetArgv()))
	}
	if d := r.GetDaemon(); d.GetConfigFile() != "" {
		name := "raw/daemon-config/" + path.Base(strings.ReplaceAll(d.GetConfigFile(), "\\", "/"))
		switch {
		case d.GetConfigRaw() != "":
			b.Add(name, "probe Collect: "+d.GetConfigFile()+" as read (not valid JSON: "+d.GetConfigError()+")", []byte(d.GetConfigRaw()))
		case d.GetConfig() != nil:
			j, _ := json.MarshalIndent(d.GetConfig().AsInterface(), "", "  ")
			b.Add(name, "probe Collect: "+d.GetConfigFile()+" (parsed and re-indented)", append(j, '\n'))
		}
	}
	if ifs := r.GetInterfaces(); len(ifs) > 0 {
		b.Add("raw/net/ip-addr.txt", from+": like `ip addr` in the target's network namespace", ipAddr(ifs))
	}
	if rs := r.GetRoutes(); len(rs) > 0 {
		b.Add("raw/net/ip-route.txt", from+": like `ip route show table all` in the target's network namespace", ipRoute(rs))
	}
	if hs := r.GetContainer().GetEtcHosts(); len(hs) > 0 {
		var sb strings.Builder
		for _, h := range hs {
			fmt.Fprintf(&sb, "%s\t%s\n", h.GetAddress(), strings.Join(h.GetNames(), " "))
		}
		b.Add("raw/probe-container/etc-hosts", from+": the probe container's /etc/hosts", []byte(sb.String()))
	}
}

func argvText(argv []string) []byte {
	return []byte(strings.Join(argv, "\n") + "\n")
}

// mountinfoLine is proc(5)'s format:
// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func mountinfoLine(m *probev1.Mount) string {
	fields := []string{
		strconv.Itoa(int(m.GetId())), strconv.Itoa(int(m.GetParentId())), or(m.GetMajorMinor(), fmt.Sprintf("%d:%d", m.GetMajor(), m.GetMinor())),
		escape(m.GetRoot()), escape(m.GetMountPoint()), or(m.GetOptions(), "-"),
	}
	fields = append(fields, m.GetOptionalFields()...)
	fields = append(fields, "-", or(m.GetFsType(), "-"), or(escape(m.GetSource()), "none"), or(m.GetSuperOptions(), "-"))
	return strings.Join(fields, " ") + "\n"
}

func escape(s string) string {
	return strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(s)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ipAddr(ifs []*probev1.Interface) []byte {
	var sb strings.Builder
	for _, ifc := range ifs {
		name := ifc.GetName()
		if ifc.GetMaster() != "" {
			name += " master " + ifc.GetMaster()
		}
		fmt.Fprintf(&sb, "%d: %s: <%s> mtu %d state %s\n", ifc.GetIndex(), name, strings.ToUpper(strings.Join(ifc.GetFlags(), ",")), ifc.GetMtu(), or(ifc.GetOperState(), "UNKNOWN"))
		kind := or(ifc.GetKind(), "ether")
		if ifc.GetMac() != "" {
			fmt.Fprintf(&sb, "    link/%s %s\n", kind, ifc.GetMac())
		}
		for _, a := range ifc.GetAddresses() {
			line := "    " + or(a.GetFamily(), "inet") + " " + a.GetCidr()
			if a.GetPeer() != "" {
				line += " peer " + a.GetPeer()
			}
			if a.GetBroadcast() != "" {
				line += " brd " + a.GetBroadcast()
			}
			if a.GetScope() != "" {
				line += " scope " + a.GetScope()
			}
			if a.GetLabel() != "" {
				line += " " + a.GetLabel()
			}
			sb.WriteString(line + "\n")
		}
	}
	return []byte(sb.String())
}

func ipRoute(rs []*probev1.Route) []byte {
	var sb strings.Builder
	for _, r := range rs {
		parts := []string{}
		if t := r.GetType(); t != "" && t != "unicast" {
			parts = append(parts, t)
		}
		parts = append(parts, or(r.GetDestination(), "default"))
		add := func(k, v string) {
			if v != "" {
				parts = append(parts, k, v)
			}
		}
		add("via", r.GetGateway())
		add("dev", r.GetDevice())
		if t := r.GetTable(); t != 0 && t != 254 {
			add("table", strconv.Itoa(int(t)))
		}
		add("proto", r.GetProtocol())
		add("scope", r.GetScope())
		add("src", r.GetSource())
		if m := r.GetMetric(); m != 0 {
			add("metric", strconv.Itoa(int(m)))
		}
		parts = append(parts, r.GetFlags()...)
		sb.WriteString(strings.Join(parts, " ") + "\n")
	}
	return []byte(sb.String())
}
