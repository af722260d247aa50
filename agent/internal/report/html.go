package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

//go:embed html.tmpl
var htmlTemplate string

// htmlTmpl is parsed on first use: every agent run would pay for it at
// start otherwise, and most never write HTML.
var htmlTmpl = sync.OnceValue(func() *template.Template { return template.Must(template.New("report").Parse(htmlTemplate)) })

// htmlSection is one searchable table and the raw JSON it was made from.
type htmlSection struct {
	ID, Title string
	Pairs     [][2]string // key/value rows shown before the table
	Head      []string
	Rows      [][]string
	Pre       string // preformatted text (daemon config)
	Empty     string // shown when there is nothing
	Raw       string // the section's JSON, one click away
}

type htmlPage struct {
	Title     string
	Subtitle  []string
	Findings  []*probev1.Finding
	Sections  []htmlSection
	Errors    []*probev1.SectionError
	RawReport string
	// Summary is the card atop the page; Picture the network's SVG.
	Summary [][2]string
	Counts  []sevCount
	Picture template.HTML
}

// sevCount is how many findings have one severity (skips apart).
type sevCount struct {
	Severity string
	N        int
}

// summaryCard is the engine and VM identity and the few addresses people
// ask for first.
func summaryCard(r *probev1.Report) ([][2]string, []sevCount) {
	e, t, ds := r.GetEngine(), r.GetTarget(), r.GetKnowledge().GetDockerSubnet()
	var docker0 string
	for _, n := range e.GetNetworks() {
		if n.GetName() == "bridge" {
			for _, s := range n.GetSubnets() {
				docker0 = join(" gateway ", s.GetSubnet(), s.GetGateway())
			}
		}
	}
	kv := pairs(
		"Engine", join(" ", e.GetName(), join(", ", e.GetOs(), "Docker "+e.GetServerVersion())),
		"VM", join(", ", join(" ", t.GetHostname(), t.GetOsPrettyName()), t.GetKernelRelease()),
		"dockerd", join(" ", itoa(t.GetPid()), t.GetComm()),
		"VM address (eth0)", ds.GetVmAddress(),
		"Docker subnet", ds.GetSubnet(),
		"Gateway", ds.GetGateway(),
		"host.docker.internal", join(" ", ds.GetHostAddress(), hostGatewaySuffix(ds.GetHostAddress(), e.GetHostGatewayIp())),
		"docker0", docker0,
	)
	counts := map[string]int{}
	for _, f := range r.GetFindings() {
		if f.GetStatus() == "skip" {
			counts["skip"]++
		} else {
			counts[f.GetSeverity()]++
		}
	}
	var out []sevCount
	for _, s := range []string{"error", "warning", "info", "ok", "skip"} {
		out = append(out, sevCount{s, counts[s]})
	}
	return kv, out
}

func hostGatewaySuffix(fromSubnet, hostGateway string) string {
	if hostGateway == "" || hostGateway == fromSubnet {
		return ""
	}
	if fromSubnet == "" {
		return hostGateway + " (host-gateway)"
	}
	return "(host-gateway " + hostGateway + ")"
}

// HTML writes r as one self-contained HTML page: no external requests
// (inline style and script, and a Content-Security-Policy that forbids any
// fetch), findings on top, every section a searchable table with its raw
// JSON one click away, and the whole JSON report at the end.
func HTML(w io.Writer, r *probev1.Report) error {
	raw, err := MarshalJSON(r)
	if err != nil {
		return err
	}
	return htmlWith(w, r, raw)
}

// htmlWith is HTML for a caller that has r's JSON (MarshalJSON) already.
func htmlWith(w io.Writer, r *probev1.Report, raw []byte) error {
	if r == nil {
		r = &probev1.Report{}
	}
	page := htmlPage{
		Title:     "dockprobe report",
		Findings:  r.GetFindings(),
		Errors:    r.GetErrors(),
		RawReport: string(raw),
		// NetworkPicture escapes every text it draws.
		Picture: template.HTML(NetworkPicture(r)),
	}
	page.Summary, page.Counts = summaryCard(r)
	tool := r.GetTool()
	page.Subtitle = append(page.Subtitle, "schema "+strconv.Itoa(int(r.GetSchemaVersion())))
	if v := tool.GetAgentVersion(); v != "" {
		page.Subtitle = append(page.Subtitle, "agent "+v)
	}
	if v := tool.GetProbeVersion(); v != "" {
		page.Subtitle = append(page.Subtitle, "probe "+v)
	}
	if ts := r.GetCollectedAt(); ts != nil {
		page.Subtitle = append(page.Subtitle, "collected "+ts.AsTime().UTC().Format(time.RFC3339))
	}
	if n := r.GetEngine().GetName(); n != "" {
		page.Title += ": " + n
	}
	errSections := map[string]bool{}
	for _, e := range r.GetErrors() {
		errSections[e.GetSection()] = true
	}
	empty := func(section string) string {
		for s := range errSections {
			if s == section || strings.HasPrefix(s, section+".") || strings.HasPrefix(section, s+".") {
				return "not collected: see Errors"
			}
		}
		return "none"
	}

	e := r.GetEngine()
	page.Sections = append(page.Sections, htmlSection{
		ID: "engine", Title: "Engine", Empty: empty("engine"),
		Pairs: pairs(
			"Server version", e.GetServerVersion(), "API version", e.GetApiVersion(),
			"OS", join(" ", e.GetOs(), join("/", e.GetOsType(), e.GetArchitecture())),
			"Kernel", e.GetKernelVersion(), "Name", e.GetName(), "Root dir", e.GetDockerRootDir(),
			"Cgroup driver", e.GetCgroupDriver(), "Runtime", e.GetDefaultRuntime(),
			"Security", strings.Join(e.GetSecurityOptions(), " "),
			"Endpoint", join(" ", e.GetHost(), e.GetContext()),
			"Host gateway", e.GetHostGatewayIp()),
		Raw: rawJSON(withoutNetworks(e)),
	})
	tg := r.GetTarget()
	page.Sections = append(page.Sections, htmlSection{
		ID: "target", Title: "Target", Empty: empty("target"),
		Pairs: pairs("PID", itoa(tg.GetPid())+" "+tg.GetComm(), "Chosen by", join(": ", tg.GetMethod(), tg.GetReason()),
			"Hostname", tg.GetHostname(), "OS", tg.GetOsPrettyName(), "Kernel", tg.GetKernelRelease()),
		Head: ancestryHead(tg), Rows: ancestryRows(tg),
		Raw: rawJSON(tg),
	})
	d := r.GetDaemon()
	ds := htmlSection{
		ID: "daemon", Title: "Daemon", Empty: empty("daemon"),
		Pairs: pairs("Executable", d.GetExecutable(), "PID", itoa(d.GetPid()), "Data root", d.GetDataRoot(),
			"Exec root", d.GetExecRoot(), "containerd", d.GetContainerdAddress(), "Pidfile", d.GetPidfile(),
			"Hosts", strings.Join(d.GetHosts(), " "), "Config file", d.GetConfigFile()),
		Head: []string{"Flag", "Value"},
		Raw:  rawJSON(d),
	}
	for _, f := range d.GetFlags() {
		ds.Rows = append(ds.Rows, []string{f.Option(), f.GetValue()})
	}
	switch {
	case d.GetConfig() != nil:
		b, _ := json.MarshalIndent(d.GetConfig().AsInterface(), "", "  ")
		ds.Pre = string(b)
	case d.GetConfigRaw() != "":
		ds.Pre = "parse error: " + d.GetConfigError() + "\n" + d.GetConfigRaw()
	}
	page.Sections = append(page.Sections, ds)

	is := htmlSection{ID: "interfaces", Title: "Interfaces", Empty: empty("interfaces"),
		Head: []string{"Name", "Index", "Kind", "MTU", "State", "Master", "MAC", "Addresses"}}
	for _, ifc := range r.GetInterfaces() {
		var addrs []string
		for _, a := range ifc.GetAddresses() {
			addrs = append(addrs, a.GetCidr())
		}
		is.Rows = append(is.Rows, []string{ifc.GetName(), itoa(ifc.GetIndex()), ifc.GetKind(), itoa(ifc.GetMtu()),
			ifc.GetOperState(), ifc.GetMaster(), ifc.GetMac(), strings.Join(addrs, " ")})
	}
	is.Raw = rawList(r.GetInterfaces())
	page.Sections = append(page.Sections, is)

	rs := htmlSection{ID: "routes", Title: "Routes", Empty: empty("routes"),
		Head: []string{"Destination", "Gateway", "Device", "Source", "Protocol", "Scope", "Table", "Metric"}}
	for _, rt := range r.GetRoutes() {
		rs.Rows = append(rs.Rows, []string{rt.GetDestination(), rt.GetGateway(), rt.GetDevice(), rt.GetSource(),
			rt.GetProtocol(), rt.GetScope(), itoa(rt.GetTable()), itoa(rt.GetMetric())})
	}
	rs.Raw = rawList(r.GetRoutes())
	page.Sections = append(page.Sections, rs)

	ns := htmlSection{ID: "networks", Title: "Docker networks", Empty: empty("engine.networks"),
		Head: []string{"Name", "Driver", "Scope", "Subnet", "Gateway", "Bridge"}}
	for _, n := range e.GetNetworks() {
		if len(n.GetSubnets()) == 0 {
			ns.Rows = append(ns.Rows, []string{n.GetName(), n.GetDriver(), n.GetScope(), "", "", n.GetBridge()})
		}
		for _, s := range n.GetSubnets() {
			ns.Rows = append(ns.Rows, []string{n.GetName(), n.GetDriver(), n.GetScope(), s.GetSubnet(), s.GetGateway(), n.GetBridge()})
		}
	}
	ns.Raw = rawList(e.GetNetworks())
	page.Sections = append(page.Sections, ns)

	ms := htmlSection{ID: "mounts", Title: "Mounts", Empty: empty("mounts"),
		Head: []string{"ID", "Parent", "Mount point", "Source", "FS type", "Root", "Device", "Propagation", "Host share"}}
	for _, m := range r.GetMounts() {
		share := ""
		if IsHostShare(m.GetMountPoint()) {
			share = "yes"
		}
		prop := m.GetPropagation()
		if opt := strings.Join(m.GetOptionalFields(), " "); opt != "" {
			prop += " (" + opt + ")"
		}
		ms.Rows = append(ms.Rows, []string{itoa(m.GetId()), itoa(m.GetParentId()), m.GetMountPoint(), m.GetSource(),
			m.GetFsType(), m.GetRoot(), m.GetMajorMinor(), prop, share})
	}
	ms.Raw = rawList(r.GetMounts())
	page.Sections = append(page.Sections, ms)

	ps := htmlSection{ID: "processes", Title: "Processes of interest", Empty: empty("processes"),
		Head: []string{"PID", "PPID", "Comm", "Command"}}
	for _, p := range r.GetProcesses() {
		ps.Rows = append(ps.Rows, []string{itoa(p.GetPid()), itoa(p.GetPpid()), p.GetComm(), strings.Join(p.GetArgv(), " ")})
	}
	ps.Raw = rawList(r.GetProcesses())
	page.Sections = append(page.Sections, ps)

	pc := r.GetContainer()
	cs := htmlSection{ID: "container", Title: "The probe's own container", Empty: empty("container"),
		Pairs: pairs("Hostname", pc.GetHostname(), "Nameservers", strings.Join(pc.GetNameservers(), " "),
			"Search", strings.Join(pc.GetSearch(), " "), "Capabilities", strings.Join(pc.GetCapabilities(), " ")),
		Head: []string{"Address", "Names (/etc/hosts)"}, Raw: rawJSON(pc)}
	for _, h := range pc.GetEtcHosts() {
		cs.Rows = append(cs.Rows, []string{h.GetAddress(), strings.Join(h.GetNames(), " ")})
	}
	page.Sections = append(page.Sections, cs)

	var buf bytes.Buffer
	if err := htmlTmpl().Execute(&buf, page); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

func pairs(kv ...string) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(kv); i += 2 {
		if v := strings.TrimSpace(kv[i+1]); v != "" && v != "0" {
			out = append(out, [2]string{kv[i], v})
		}
	}
	return out
}

func itoa(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}

func withoutNetworks(e *probev1.Engine) *probev1.Engine {
	if e == nil {
		return nil
	}
	c := proto.CloneOf(e)
	c.Networks = nil
	return c
}

var rawOpts = protojson.MarshalOptions{EmitUnpopulated: true}

func rawJSON(m proto.Message) string {
	if m == nil {
		return "null"
	}
	b, err := rawOpts.Marshal(m)
	if err != nil {
		return err.Error()
	}
	return indent(b)
}

func rawList[M proto.Message](ms []M) string {
	parts := make([]json.RawMessage, 0, len(ms))
	for _, m := range ms {
		b, err := rawOpts.Marshal(m)
		if err != nil {
			return err.Error()
		}
		parts = append(parts, b)
	}
	b, _ := json.Marshal(parts)
	return indent(b)
}

func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// ancestryHead and ancestryRows are the target's chain from the VM's pid
// 1 (first row) to it, with the namespaces each process enters.
func ancestryHead(tg *probev1.Target) []string {
	if len(tg.GetAncestry()) == 0 {
		return nil
	}
	return []string{"Ancestry: PID", "PPID", "Comm", "Enters (namespaces that differ from the parent's)", "Could not read"}
}

func ancestryRows(tg *probev1.Target) [][]string {
	var rows [][]string
	for _, s := range tg.GetAncestry() {
		rows = append(rows, []string{itoa(s.GetPid()), itoa(s.GetPpid()), s.GetComm(), strings.Join(s.GetEnters(), " "), s.GetError()})
	}
	return rows
}
