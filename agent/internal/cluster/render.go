package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/dockprobe/dockprobe/agent/internal/report"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Write renders the cluster report as opts say (the formats of a single
// report: text, json, yaml, html; svg is one node's picture and is not
// offered). It does not redact: callers pass a report that went through
// redact.Scrubber.Cluster.
func Write(w io.Writer, r *probev1.ClusterReport, opts report.Options) error {
	if opts.Template != "" {
		return Template(w, r, opts.Template)
	}
	switch opts.Format {
	case "", "text":
		return Text(w, r, report.TextOptions{Color: opts.Color})
	case "json":
		b, err := MarshalJSON(r)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "yaml":
		b, err := MarshalJSON(r)
		if err != nil {
			return err
		}
		y, err := report.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	case "html":
		return HTML(w, r)
	}
	return fmt.Errorf("the cluster report has no %s form (use text, json, yaml or html)", opts.Format)
}

// Template executes a --format template over the cluster report's JSON
// document (e.g. '{{range .nodes}}{{.name}} {{.report.daemon.version}}{{"\n"}}{{end}}').
func Template(w io.Writer, r *probev1.ClusterReport, text string) error {
	t, err := report.ParseTemplate(text)
	if err != nil {
		return err
	}
	b, err := MarshalJSON(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	return report.ExecTemplate(w, t, doc)
}

// Text writes the node table first (one line per node: its state, kubelet,
// runtime, kernel, and its error when it has no report), then the cluster
// checks, then each node's report as `agent probe` prints one.
func Text(w io.Writer, r *probev1.ClusterReport, opts report.TextOptions) error {
	c := r.GetCluster()
	fmt.Fprintf(w, "Cluster %s (Kubernetes %s, %s)", c.GetServer(), c.GetVersion(), c.GetPlatform())
	if c.GetContext() != "" {
		fmt.Fprintf(w, ", context %s", c.GetContext())
	}
	fmt.Fprintf(w, "\nNamespace %s, %s\n\n", c.GetNamespace(), c.GetSelection())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tKUBELET\tRUNTIME\tKERNEL\tTOOK")
	for _, n := range r.GetNodes() {
		status := "ok"
		if e := n.GetError(); e != nil {
			status = "error: " + e.GetKind()
		}
		i := n.GetInfo()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%dms\n", n.GetName(), status, i.GetKubeletVersion(), i.GetContainerRuntimeVersion(), i.GetKernelVersion(), n.GetDurationMs())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.GetNodes() {
		if e := n.GetError(); e != nil {
			fmt.Fprintf(w, "  %s: %s\n", n.GetName(), e.GetMessage())
		}
	}
	if fs := r.GetFindings(); len(fs) > 0 {
		fmt.Fprintln(w, "\nCluster checks")
		for _, f := range fs {
			fmt.Fprintf(w, "  %-5s %-28s %s\n", f.GetStatus(), f.GetId(), f.GetSummary())
		}
	}
	for _, n := range r.GetNodes() {
		if n.GetReport() == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s\nNode %s\n%s\n", strings.Repeat("=", 72), n.GetName(), strings.Repeat("=", 72))
		if err := report.Text(w, n.GetReport(), opts); err != nil {
			return err
		}
	}
	return nil
}

// HTML writes one self-contained page: the node table and the cluster
// checks, and a node selector that shows one node's own report page (as
// `agent probe -o html` writes it, embedded with srcdoc, so nothing is
// fetched).
func HTML(w io.Writer, r *probev1.ClusterReport) error {
	type node struct {
		Name, Status, Kubelet, Runtime, Kernel, Error string
		Page                                          string
	}
	var nodes []node
	for _, n := range r.GetNodes() {
		nd := node{Name: n.GetName(), Status: "ok", Kubelet: n.GetInfo().GetKubeletVersion(), Runtime: n.GetInfo().GetContainerRuntimeVersion(), Kernel: n.GetInfo().GetKernelVersion()}
		if e := n.GetError(); e != nil {
			nd.Status, nd.Error = "error: "+e.GetKind(), e.GetMessage()
		}
		if n.GetReport() != nil {
			var b bytes.Buffer
			if err := report.HTML(&b, n.GetReport()); err != nil {
				return err
			}
			nd.Page = b.String()
		}
		nodes = append(nodes, nd)
	}
	return clusterPage().Execute(w, map[string]any{"C": r.GetCluster(), "Nodes": nodes, "Findings": r.GetFindings()})
}

// clusterPage is parsed on first use: every agent run would pay for it at
// start otherwise, and most never write HTML.
var clusterPage = sync.OnceValue(func() *template.Template { return template.Must(template.New("cluster").Parse(clusterPageText)) })

const clusterPageText = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dockprobe cluster report</title>
<style>body{font-family:system-ui,sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.err{color:#b00}iframe{width:100%;height:80vh;border:1px solid #ccc;display:none}iframe.on{display:block}</style></head>
<body><h1>Cluster {{.C.GetServer}}</h1>
<p>Kubernetes {{.C.GetVersion}} ({{.C.GetPlatform}}){{if .C.GetContext}}, context {{.C.GetContext}}{{end}}; namespace {{.C.GetNamespace}}; {{.C.GetSelection}}</p>
<table id="nodes"><tr><th>node</th><th>status</th><th>kubelet</th><th>runtime</th><th>kernel</th><th>error</th></tr>
{{range .Nodes}}<tr><td>{{.Name}}</td><td>{{.Status}}</td><td>{{.Kubelet}}</td><td>{{.Runtime}}</td><td>{{.Kernel}}</td><td class="err">{{.Error}}</td></tr>
{{end}}</table>
{{if .Findings}}<h2>Cluster checks</h2><table>{{range .Findings}}<tr><td>{{.GetStatus}}</td><td>{{.GetId}}</td><td>{{.GetSummary}}</td></tr>{{end}}</table>{{end}}
<h2>Node <select id="node" onchange="show(this.value)">{{range $i, $n := .Nodes}}{{if $n.Page}}<option value="n{{$i}}">{{$n.Name}}</option>{{end}}{{end}}</select></h2>
{{range $i, $n := .Nodes}}{{if $n.Page}}<iframe id="n{{$i}}" title="{{$n.Name}}" sandbox="allow-scripts" srcdoc="{{$n.Page}}"></iframe>{{end}}{{end}}
<script>function show(id){document.querySelectorAll('iframe').forEach(f=>f.classList.toggle('on',f.id===id))}
var s=document.getElementById('node');if(s.value)show(s.value)</script>
</body></html>
`
