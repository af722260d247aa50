package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// TextOptions tunes the text report.
type TextOptions struct {
	// Color adds ANSI colour (bold section titles, severities, errors).
	// The caller decides: only for a terminal, never with --no-color or
	// NO_COLOR.
	Color bool
}

// Host-share mount points: Docker Desktop's two views of the host's drives.
var hostSharePrefixes = []string{"/run/desktop/mnt/host/", "/mnt/host/"}

// Text writes r for a person at a terminal, one section after another:
// Findings (when there are any), Engine, Target, Daemon, Interfaces,
// Routes, Docker networks, Host shares, Host gateway, Processes, Errors.
// Columns are aligned with spaces; colour only with opts.Color.
//
// IPv4 addresses are first shown, interfaces sorted by name, the way the
// Docker Desktop articles quote busybox ifconfig inside LinuxKit, one line
// per address, then kind, MTU, state and master; a table of every interface
// follows in the probe's order:
//
//	[eth0] inet addr:192.168.65.3 Bcast:192.168.65.255 Mask:255.255.255.0
//
// As in ifconfig, Bcast appears when the interface has the BROADCAST flag
// (as 0.0.0.0 when the address has none, e.g. services1's /32) or when the
// address has a broadcast address; P-t-P replaces it for a peer address;
// lo, without BROADCAST, shows neither.
func Text(w io.Writer, r *probev1.Report, opts TextOptions) error {
	if r == nil {
		r = &probev1.Report{}
	}
	t := &textWriter{w: w, errSections: map[string]bool{}, color: opts.Color}
	for _, e := range r.GetErrors() {
		t.errSections[e.GetSection()] = true
	}
	t.header(r)
	t.findings(r.GetFindings())
	t.engine(r)
	t.target(r.GetTarget())
	t.daemon(r.GetDaemon())
	t.interfaces(r.GetInterfaces())
	t.routes(r.GetRoutes())
	t.networks(r.GetEngine().GetNetworks())
	t.hostShares(r.GetMounts())
	t.hostGateway(r)
	t.processes(r.GetProcesses())
	t.errors(r.GetErrors())
	if t.err != nil {
		return fmt.Errorf("write text report: %w", t.err)
	}
	return nil
}

// textWriter keeps the first write error so the section code stays flat.
type textWriter struct {
	w           io.Writer
	err         error
	errSections map[string]bool
	color       bool
}

// ANSI SGR codes used by the text report.
const (
	ansiBold   = "1"
	ansiRed    = "31"
	ansiGreen  = "32"
	ansiYellow = "33"
	ansiCyan   = "36"
)

// paint wraps s in an ANSI colour when colour is on.
func (t *textWriter) paint(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *textWriter) section(title string) {
	t.printf("\n%s\n", t.paint(ansiBold, title))
}

// severityColor is the colour of a finding's severity.
func severityColor(sev string) string {
	switch strings.ToLower(sev) {
	case "error", "critical", "fail":
		return ansiRed
	case "warning", "warn":
		return ansiYellow
	case "ok", "pass":
		return ansiGreen
	}
	return ansiCyan
}

// findings come first: they are what a person reads the report for.
func (t *textWriter) findings(fs []*probev1.Finding) {
	if len(fs) == 0 {
		return
	}
	t.section("Findings")
	width := 0
	for _, f := range fs {
		width = max(width, len(findingTag(f)))
	}
	for _, f := range fs {
		tag := findingTag(f)
		pad := strings.Repeat(" ", width-len(tag))
		title := join("  ", f.GetId(), or(f.GetTitle(), ""))
		t.printf("  %s%s  %s\n", t.paint(severityColor(f.GetSeverity()), tag), pad, oneLine(title))
		indent := strings.Repeat(" ", width+4)
		if s := f.GetSummary(); s != "" {
			t.printf("%s%s\n", indent, oneLine(s))
		}
		for _, e := range f.GetEvidence() {
			t.printf("%s- %s\n", indent, oneLine(e))
		}
		if fix := f.GetFix(); fix != "" {
			t.printf("%sfix: %s\n", indent, oneLine(fix))
		}
		if u := f.GetDocUrl(); u != "" {
			t.printf("%ssee: %s\n", indent, u)
		}
	}
}

// findingTag is "[warning]", or "[warning/fail]" when the status adds to it.
func findingTag(f *probev1.Finding) string {
	sev := strings.ToLower(or(f.GetSeverity(), "info"))
	if st := strings.ToLower(f.GetStatus()); st != "" && st != "fail" && st != "pass" && st != "warn" {
		sev += "/" + st
	}
	return "[" + sev + "]"
}

// missing says why a section is empty: an error was reported for it, for a
// part of it ("engine.networks" for "engine") or for what contains it
// ("engine" for "engine.networks"), or it simply has nothing.
func (t *textWriter) missing(section string) {
	for s := range t.errSections {
		if s == section || strings.HasPrefix(s, section+".") || strings.HasPrefix(section, s+".") {
			t.printf("  (not collected: see Errors)\n")
			return
		}
	}
	t.printf("  (none)\n")
}

// table writes aligned rows, each indented by indent spaces.
func (t *textWriter) table(indent int, rows [][]string) {
	if t.err != nil || len(rows) == 0 {
		return
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	pad := strings.Repeat(" ", indent)
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = oneLine(c)
		}
		fmt.Fprintf(tw, "%s%s\n", pad, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	// tabwriter pads the last cell of short rows; trim trailing blanks.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		t.printf("%s\n", strings.TrimRight(line, " \n"))
	}
}

// pairs writes "key  value" rows for the non-empty values.
func (t *textWriter) pairs(kv ...string) bool {
	var rows [][]string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			rows = append(rows, []string{kv[i], kv[i+1]})
		}
	}
	t.table(2, rows)
	return len(rows) > 0
}

func (t *textWriter) header(r *probev1.Report) {
	tool := r.GetTool()
	parts := []string{"schema " + strconv.Itoa(int(r.GetSchemaVersion()))}
	if v := tool.GetAgentVersion(); v != "" {
		parts = append(parts, "agent "+v)
	}
	if v := tool.GetProbeVersion(); v != "" {
		parts = append(parts, "probe "+v)
	}
	if v := tool.GetProtocolVersion(); v != 0 {
		parts = append(parts, "protocol "+strconv.FormatUint(uint64(v), 10))
	}
	t.printf("dockprobe report (%s)\n", strings.Join(parts, ", "))
	if ts := r.GetCollectedAt(); ts != nil {
		t.printf("collected %s\n", ts.AsTime().UTC().Format(time.RFC3339))
	}
	if img := tool.GetProbeImage(); img != "" {
		t.printf("probe image %s\n", img)
	}
}

func (t *textWriter) engine(r *probev1.Report) {
	e := r.GetEngine()
	t.section("Engine")
	api := e.GetApiVersion()
	if api != "" && e.GetMinApiVersion() != "" {
		api += " (min " + e.GetMinApiVersion() + ")"
	}
	osLine := e.GetOs()
	if plat := join("/", e.GetOsType(), e.GetArchitecture()); plat != "" {
		osLine = strings.TrimSpace(osLine + " (" + plat + ")")
	}
	endpoint := e.GetHost()
	if c := e.GetContext(); c != "" {
		endpoint = strings.TrimSpace(endpoint + " (context " + c + ")")
	}
	if !t.pairs(
		"Server version", e.GetServerVersion(),
		"API version", api,
		"OS", osLine,
		"Kernel", e.GetKernelVersion(),
		"Name", e.GetName(),
		"Root dir", e.GetDockerRootDir(),
		"Cgroup driver", e.GetCgroupDriver(),
		"Runtime", e.GetDefaultRuntime(),
		"Security", strings.Join(e.GetSecurityOptions(), " "),
		"Endpoint", endpoint,
	) {
		t.missing("engine")
	}
}

func (t *textWriter) target(tg *probev1.Target) {
	t.section("Target")
	pid := ""
	if tg.GetPid() != 0 {
		pid = strconv.Itoa(int(tg.GetPid()))
		if tg.GetComm() != "" {
			pid += " (" + tg.GetComm() + ")"
		}
	}
	chosen := tg.GetMethod()
	if reason := tg.GetReason(); reason != "" {
		chosen = join(": ", chosen, reason)
	}
	if !t.pairs(
		"PID", pid,
		"Chosen by", chosen,
		"Hostname", tg.GetHostname(),
		"OS", tg.GetOsPrettyName(),
		"Kernel", tg.GetKernelRelease(),
	) {
		t.missing("target")
	}
	t.ancestry(tg.GetAncestry())
}

// ancestry prints the chain from the VM's pid 1 to the target, one
// process a line, with the namespaces each enters.
func (t *textWriter) ancestry(steps []*probev1.AncestryStep) {
	if len(steps) == 0 {
		return
	}
	t.printf("  Ancestry (pid 1 first; the namespaces each process enters):\n")
	for _, s := range steps {
		line := fmt.Sprintf("    %-7d %-18s", s.GetPid(), s.GetComm())
		if len(s.GetEnters()) > 0 {
			line += " enters " + strings.Join(s.GetEnters(), " ")
		}
		if s.GetError() != "" {
			line += " (could not read: " + s.GetError() + ")"
		}
		t.printf("%s\n", strings.TrimRight(line, " "))
	}
}

func (t *textWriter) daemon(d *probev1.Daemon) {
	t.section("Daemon")
	if d == nil || (!d.GetFound() && d.GetPid() == 0 && len(d.GetArgv()) == 0) {
		t.missing("daemon")
		return
	}
	if !d.GetFound() {
		t.printf("  dockerd not found\n")
	}
	pid := ""
	if d.GetPid() != 0 {
		pid = strconv.Itoa(int(d.GetPid()))
	}
	config := d.GetConfigFile()
	if config != "" {
		switch src := d.GetConfigFileSource(); src {
		case "":
		case "flag":
			config += " (from --config-file)"
		case "default":
			config += " (default path)"
		default:
			config += " (" + src + ")"
		}
	}
	t.pairs(
		"Executable", d.GetExecutable(),
		"PID", pid,
		"Data root", d.GetDataRoot(),
		"Exec root", d.GetExecRoot(),
		"containerd", d.GetContainerdAddress(),
		"Pidfile", d.GetPidfile(),
		"Hosts", strings.Join(d.GetHosts(), " "),
		"Config file", config,
	)
	if flags := d.GetFlags(); len(flags) > 0 {
		t.printf("  Flags\n")
		rows := make([][]string, 0, len(flags))
		for _, f := range flags {
			value := f.GetValue()
			if f.GetHasValue() && value == "" {
				value = `""`
			}
			rows = append(rows, []string{f.Option(), value})
		}
		t.table(4, rows)
	}
	t.daemonConfig(d)
}

func (t *textWriter) daemonConfig(d *probev1.Daemon) {
	if d.GetConfigFile() == "" {
		return
	}
	t.printf("  Config\n")
	switch {
	case d.GetConfig() != nil:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("    ", "  ")
		if err := enc.Encode(d.GetConfig().AsInterface()); err != nil {
			t.printf("    (cannot show: %v)\n", err)
			return
		}
		t.printf("    %s", buf.String())
	case d.GetConfigError() != "":
		t.printf("    parse error: %s\n", oneLine(d.GetConfigError()))
		if raw := d.GetConfigRaw(); raw != "" {
			for _, line := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
				t.printf("    | %s\n", strings.TrimRight(line, "\r"))
			}
		}
	case !d.GetConfigFileExists():
		t.printf("    (file does not exist)\n")
	default:
		t.printf("    (empty)\n")
	}
}

func (t *textWriter) interfaces(ifs []*probev1.Interface) {
	t.section("Interfaces")
	if len(ifs) == 0 {
		t.missing("interfaces")
		return
	}
	// The ifconfig-style lines come by name, as the article lists them; the
	// table below keeps the probe's (ifindex) order.
	byName := slices.Clone(ifs)
	slices.SortStableFunc(byName, func(a, b *probev1.Interface) int { return strings.Compare(a.GetName(), b.GetName()) })
	has4 := false
	for _, ifc := range byName {
		prefix := "[" + ifc.GetName() + "] "
		n := 0
		for _, a := range ifc.GetAddresses() {
			if a.GetFamily() != "inet" && !isIPv4(a) {
				continue
			}
			t.printf("  %s%s\n", prefix, inetLine(ifc, a))
			n++
		}
		if n == 0 {
			continue
		}
		has4 = true
		details := []string{"kind " + orDash(ifc.GetKind()), "mtu " + strconv.Itoa(int(ifc.GetMtu())), "state " + orDash(ifc.GetOperState())}
		if m := ifc.GetMaster(); m != "" {
			details = append(details, "master "+m)
		}
		t.printf("  %s%s\n", strings.Repeat(" ", len(prefix)), strings.Join(details, "  "))
	}
	if has4 {
		t.printf("\n")
	}
	rows := [][]string{{"NAME", "INDEX", "KIND", "MTU", "STATE", "MASTER", "MAC", "ADDRESSES"}}
	for _, ifc := range ifs {
		var addrs []string
		for _, a := range ifc.GetAddresses() {
			addrs = append(addrs, a.GetCidr())
		}
		rows = append(rows, []string{
			ifc.GetName(), strconv.Itoa(int(ifc.GetIndex())), orDash(ifc.GetKind()),
			strconv.Itoa(int(ifc.GetMtu())), orDash(ifc.GetOperState()), orDash(ifc.GetMaster()),
			orDash(ifc.GetMac()), orDash(strings.Join(addrs, ", ")),
		})
	}
	t.table(2, rows)
}

// inetLine is the ifconfig-style text of one IPv4 address (see Text).
func inetLine(ifc *probev1.Interface, a *probev1.Address) string {
	addr := a.GetAddress()
	if addr == "" {
		addr, _, _ = strings.Cut(a.GetCidr(), "/")
	}
	parts := []string{"inet addr:" + addr}
	switch {
	case a.GetPeer() != "" || hasFlag(ifc, "pointopoint"):
		parts = append(parts, "P-t-P:"+or(stripLen(a.GetPeer()), "0.0.0.0"))
	case a.GetBroadcast() != "" || hasFlag(ifc, "broadcast"):
		parts = append(parts, "Bcast:"+or(a.GetBroadcast(), "0.0.0.0"))
	}
	if mask := netmask(a); mask != "" {
		parts = append(parts, "Mask:"+mask)
	}
	return strings.Join(parts, " ")
}

func isIPv4(a *probev1.Address) bool {
	p, err := netip.ParsePrefix(a.GetCidr())
	return err == nil && p.Addr().Is4()
}

func netmask(a *probev1.Address) string {
	if m := a.GetNetmask(); m != "" {
		return m
	}
	bits := int(a.GetPrefixLength())
	if bits == 0 {
		if p, err := netip.ParsePrefix(a.GetCidr()); err == nil {
			bits = p.Bits()
		} else {
			return ""
		}
	}
	if bits < 0 || bits > 32 {
		return ""
	}
	return net.IP(net.CIDRMask(bits, 32)).String()
}

func hasFlag(ifc *probev1.Interface, flag string) bool {
	for _, f := range ifc.GetFlags() {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

func stripLen(s string) string {
	addr, _, _ := strings.Cut(s, "/")
	return addr
}

func (t *textWriter) routes(routes []*probev1.Route) {
	t.section("Routes")
	if len(routes) == 0 {
		t.missing("routes")
		return
	}
	rows := [][]string{{"DESTINATION", "GATEWAY", "DEVICE", "SOURCE", "PROTOCOL", "SCOPE", "METRIC", "FLAGS"}}
	for _, r := range routes {
		metric := "-"
		if r.GetMetric() != 0 {
			metric = strconv.Itoa(int(r.GetMetric()))
		}
		rows = append(rows, []string{
			orDash(r.GetDestination()), orDash(r.GetGateway()), orDash(r.GetDevice()), orDash(r.GetSource()),
			orDash(r.GetProtocol()), orDash(r.GetScope()), metric, orDash(strings.Join(r.GetFlags(), ",")),
		})
	}
	t.table(2, rows)
}

func (t *textWriter) networks(nets []*probev1.Network) {
	t.section("Docker networks")
	if len(nets) == 0 {
		t.missing("engine.networks")
		return
	}
	rows := [][]string{{"NAME", "DRIVER", "SCOPE", "SUBNET", "GATEWAY", "BRIDGE"}}
	for _, n := range nets {
		subnets := n.GetSubnets()
		if len(subnets) == 0 {
			subnets = []*probev1.Subnet{{}}
		}
		for i, s := range subnets {
			name, driver, scope, bridge := n.GetName(), orDash(n.GetDriver()), orDash(n.GetScope()), orDash(n.GetBridge())
			if i > 0 {
				// Further subnets of the same network.
				name, driver, scope, bridge = "", "", "", ""
			}
			rows = append(rows, []string{name, driver, scope, orDash(s.GetSubnet()), orDash(s.GetGateway()), bridge})
		}
	}
	t.table(2, rows)
}

// IsHostShare reports whether a mount point is one of Docker Desktop's views
// of the host's drives (/run/desktop/mnt/host/... or /mnt/host/...).
func IsHostShare(mountPoint string) bool {
	for _, p := range hostSharePrefixes {
		if strings.HasPrefix(mountPoint, p) {
			return true
		}
	}
	return false
}

func (t *textWriter) hostShares(mounts []*probev1.Mount) {
	t.section("Host shares")
	rows := [][]string{{"ID", "PARENT", "MOUNT POINT", "SOURCE", "FSTYPE", "ROOT", "DEVICE", "PROPAGATION"}}
	for _, m := range mounts {
		if !IsHostShare(m.GetMountPoint()) {
			continue
		}
		prop := orDash(m.GetPropagation())
		if opt := strings.Join(m.GetOptionalFields(), " "); opt != "" {
			prop += " (" + opt + ")"
		}
		rows = append(rows, []string{
			strconv.Itoa(int(m.GetId())), strconv.Itoa(int(m.GetParentId())), m.GetMountPoint(),
			orDash(m.GetSource()), orDash(m.GetFsType()), orDash(m.GetRoot()), orDash(m.GetMajorMinor()), prop,
		})
	}
	if len(rows) == 1 {
		if len(mounts) == 0 {
			t.missing("mounts")
		} else {
			t.printf("  (no mount under %s)\n", strings.Join(hostSharePrefixes, " or "))
		}
		return
	}
	t.table(2, rows)
}

func (t *textWriter) hostGateway(r *probev1.Report) {
	t.section("Host gateway")
	flag := ""
	for _, f := range r.GetDaemon().GetFlags() {
		if f.GetName() == "host-gateway-ip" {
			flag = "--host-gateway-ip " + f.GetValue()
		}
	}
	if !t.pairs(
		"Address", r.GetEngine().GetHostGatewayIp(),
		"dockerd flag", flag,
	) {
		t.missing("engine.host_gateway_ip")
	}
}

func (t *textWriter) processes(ps []*probev1.Process) {
	t.section("Processes of interest")
	if len(ps) == 0 {
		t.missing("processes")
		return
	}
	rows := [][]string{{"PID", "PPID", "COMM", "COMMAND"}}
	for _, p := range ps {
		rows = append(rows, []string{
			strconv.Itoa(int(p.GetPid())), strconv.Itoa(int(p.GetPpid())), orDash(p.GetComm()),
			orDash(oneLine(strings.Join(p.GetArgv(), " "))),
		})
	}
	t.table(2, rows)
}

func (t *textWriter) errors(errs []*probev1.SectionError) {
	t.section("Errors")
	if len(errs) == 0 {
		t.printf("  none\n")
		return
	}
	for _, e := range errs {
		msg := oneLine(e.GetMessage())
		if c := e.GetCode(); c != "" {
			msg += " (" + c + ")"
		}
		t.printf("  %s: %s\n", t.paint(ansiRed, or(e.GetSection(), "?")), msg)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDash(s string) string { return or(s, "-") }

// join joins the non-empty parts.
func join(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// oneLine keeps a value on its line: tabs would break the columns and
// newlines the layout.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return lineBreaks.Replace(s)
}

// lineBreaks is built once: building a Replacer costs more than using it,
// and oneLine runs for every cell of the text report.
var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")
