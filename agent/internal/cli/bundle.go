package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/bundle"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/report"
	"github.com/dockprobe/dockprobe/internal/version"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

type bundleOptions struct {
	probe probeOptions
	file  string
}

func init() { register(newBundleCmd) }

func newBundleCmd(g *globalOptions) *cobra.Command {
	o := &bundleOptions{}
	cmd := &cobra.Command{
		Use:   "bundle [-o FILE.zip]",
		Short: "Write a diagnostics bundle (zip) for a support engineer",
		Long: `bundle runs the probe and writes one zip: report.json, report.txt,
report.html and report.yaml, the raw sources (mountinfo, every argv, the daemon
config file, interface and route dumps), the engine's API answers (version,
info, networks), the agent's own log, manifest.json (every file with its size,
sha256 and producer; versions; timestamps; what was redacted) and README.md.

Secrets are always redacted, in file contents and file names. With --anonymize,
hostnames, user names, MACs and non-Docker addresses become consistent
pseudonyms; the mapping is written beside the zip (FILE.zip.mapping.json),
never into it.

When the probe cannot run (blocked, unreachable engine), a reduced bundle is
still written, with the reason in README.md and manifest.json, and the exit
status is the probe's.

With --runtime kubernetes the bundle holds the cluster report
(cluster.json, .txt, .html, .yaml) and one folder per node (nodes/NAME/:
its report, raw sources and Node object, or error.txt); a node that
fails keeps its folder and the others complete.`,
		Example: `  agent bundle
  agent bundle -o before-vpn.zip
  agent bundle --anonymize -o case-1234.zip   # case-1234.zip.mapping.json stays with you`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.probe.timeout <= 0 {
				return fmt.Errorf("%w: --timeout must be positive, got %s", ErrUsage, o.probe.timeout)
			}
			if o.probe.targetPID < 0 {
				return fmt.Errorf("%w: --target-pid must be a positive pid, got %d", ErrUsage, o.probe.targetPID)
			}
			if o.file == "" {
				o.file = "dockprobe-" + time.Now().UTC().Format("20060102-150405") + ".zip"
			}
			if o.probe.output.mappingFile == "" && o.probe.output.anonymize {
				o.probe.output.mappingFile = o.file + ".mapping.json"
			}
			o.probe.output.format = "text"
			if err := o.probe.output.validate(); err != nil {
				return err
			}
			if err := o.probe.rt.validate(g); err != nil {
				return err
			}
			if o.probe.rt.runtime == RuntimeKube {
				if err := o.probe.rt.kubeFlags(o.probe.privileged, o.probe.targetPID); err != nil {
					return err
				}
				if cmd.Flags().Changed("timeout") {
					o.probe.rt.kube.runTimeout = o.probe.timeout
				}
				return runClusterBundle(cmd.Context(), g, o, cmd.ErrOrStderr())
			}
			return runBundle(cmd.Context(), g, o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "output", "o", "", "the zip to write (default dockprobe-<UTC time>.zip in the current directory)")
	f.BoolVar(&o.probe.output.anonymize, "anonymize", false, "replace hostnames, user names, MACs and non-Docker IP addresses with consistent pseudonyms")
	f.StringVar(&o.probe.output.mappingFile, "mapping-file", "", "with --anonymize, where to keep the mapping (default FILE.zip.mapping.json)")
	f.IntVar(&o.probe.targetPID, "target-pid", 0, "collect from this pid instead of the dockerd serving the engine")
	f.DurationVar(&o.probe.timeout, "timeout", 60*time.Second, timeoutHelp)
	f.BoolVar(&o.probe.privileged, "privileged", false, "run the probe with --privileged instead of its minimal capabilities (fallback only)")
	o.probe.rt.addFlags(f)
	return cmd
}

// runBundle always writes a bundle once the flags are good; the error it
// returns is the probe's (its exit status tells scripts what happened).
//
// After the probe has answered, the run's time is the bundle's own work,
// so it is spread over the cores: every format is rendered at once
// (report.WriteAll: the JSON once, YAML and the HTML page from it) and
// each file is scrubbed, hashed and compressed on its renderer's
// goroutine as it is added, while the engine's API answers are read; the
// zip is then only assembled. The probe is hung up on after the zip is
// written, as `agent probe` does after rendering, so that the engine's
// teardown of the container does not compete with that work.
func runBundle(ctx context.Context, g *globalOptions, o *bundleOptions, stderr io.Writer) error {
	created := time.Now().UTC()
	agentLog := &lockedBuffer{}
	logw := io.Writer(agentLog)
	if g.debug {
		logw = io.MultiWriter(agentLog, stderr)
	}
	fmt.Fprintf(agentLog, "agent %s bundle started %s\n", version.Version, created.Format(time.RFC3339))
	o.probe.progress = newProgress(stderr)

	t0 := time.Now()
	mark := func(what string) {
		fmt.Fprintf(logw, "agent: %6.1fms bundle: %s\n", float64(time.Since(t0).Microseconds())/1000, what)
	}
	// This machine's side of the report does not depend on the engine.
	hostc := make(chan *probev1.Host, 1)
	go func() { hostc <- collectHost() }()
	scrub := o.probe.output.scrubber()
	b := bundle.New(scrub)
	rep, answers, runErr := bundleGather(ctx, g, &o.probe, logw)
	defer func() {
		if o.probe.hangUp != nil {
			o.probe.hangUp()
		}
	}()
	mark("gathered")
	o.probe.progress.Done()
	if interrupted(ctx) {
		return context.Cause(ctx) // no bundle from a run the user stopped
	}
	if runErr != nil {
		fmt.Fprintf(agentLog, "error: %v\n", runErr)
	}
	if rep == nil {
		rep = &probev1.Report{SchemaVersion: probev1.SchemaVersion,
			Tool: &probev1.Tool{AgentVersion: version.Version, ProtocolVersion: probev1.ProtocolVersion}}
	}
	if runErr != nil && len(rep.GetErrors()) == 0 {
		rep.Errors = append(rep.Errors, &probev1.SectionError{Section: "probe", Message: runErr.Error(), Code: "Unavailable"})
	}
	rep.Host = <-hostc
	analyze(rep)
	clean := scrub.Report(rep)
	mark("analyzed and scrubbed")
	// The renderings and the raw files hold only what the scrubbed report
	// holds (no new identities for the anonymizer), so they are added
	// concurrently.
	var wg sync.WaitGroup
	wg.Go(func() {
		b.AddRendered("report.schema.json", "agent (JSON Schema of report.json, generated from the proto)", report.JSONSchema())
	})
	wg.Go(func() { b.AddRaw(clean) })
	err := report.WriteAll(clean, []string{"json", "text", "html", "yaml"}, func(format string, data []byte) error {
		ext := format
		if format == "text" {
			ext = "txt"
		}
		b.AddRendered("report."+ext, "agent probe -o "+format, data)
		return nil
	})
	wg.Wait()
	if err != nil {
		return err
	}
	mark("rendered")
	// Added one after the other: with --anonymize, these may hold
	// identities the report does not, and their pseudonyms' numbers
	// follow the order they are seen in.
	answers(b)
	mark("engine answers added")
	fmt.Fprintf(agentLog, "bundle written %s\n", time.Now().UTC().Format(time.RFC3339))
	b.Add("agent.log", "the agent's own log (progress, the probe's stderr)", agentLog.Bytes())
	collected := created
	if ts := rep.GetCollectedAt(); ts != nil {
		collected = ts.AsTime().UTC()
	}
	// "unix:///var/run/docker.sock 28.3.2", either part left out when unknown.
	engineLine := strings.Join(slices.DeleteFunc([]string{rep.GetEngine().GetHost(), rep.GetEngine().GetServerVersion()}, isEmpty), " ")
	m := bundle.Manifest{
		Tool: bundle.Tool{
			AgentVersion: rep.GetTool().GetAgentVersion(), ProbeVersion: rep.GetTool().GetProbeVersion(),
			ProtocolVersion: rep.GetTool().GetProtocolVersion(), ProbeImage: rep.GetTool().GetProbeImage(),
			ReportSchema: rep.GetSchemaVersion(),
		},
		CreatedAt:   created.Format(time.RFC3339),
		CollectedAt: collected.Format(time.RFC3339),
		Command:     "agent bundle",
		Engine:      scrub.String(engineLine),
		Reduced:     runErr != nil,
	}
	if runErr != nil {
		m.Reason = runErr.Error()
	}
	m.Redaction.Anonymized = scrub.Anon != nil
	if err := writeZip(o.file, b, m, bundleReadme(m, clean), collected); err != nil {
		return err
	}
	mark("zip written")
	if scrub.Anon != nil {
		if err := writeMapping(o.probe.output.mappingFile, scrub.Anon); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "agent: the anonymization mapping is in %s: keep it, do not send it\n", o.probe.output.mappingFile)
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "agent: wrote a reduced bundle %s (%d files): %v\n", o.file, len(b.Files())+2, runErr)
	} else {
		fmt.Fprintf(stderr, "agent: wrote %s (%d files)\n", o.file, len(b.Files())+2)
	}
	return runErr
}

// bundleGather runs the probe like `agent probe` does, leaving a
// successful session open (o.hangUp), and reads the engine's own answers
// about itself once the probe has answered, while the caller renders:
// answers waits for them and adds them to b.
func bundleGather(ctx context.Context, g *globalOptions, o *probeOptions, logw io.Writer) (*probev1.Report, func(*bundle.Builder), error) {
	none := func(*bundle.Builder) {}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	// The log gets everything --debug would show.
	dg := *g
	dg.debug = true
	o.progress.Step("connect")
	progress, _ := steps(&dg, o, logw)
	l, err := o.rt.open(ctx, &dg, launchOptions{probeDeadline: probeDeadline(o.timeout), watchdog: true, warn: logw, progress: progress})
	if err != nil {
		cancel()
		return nil, none, err
	}
	o.progress.Step("probe")
	o.keepOpen = true
	usage := startUsage(ctx, l)
	rep, err := gather(ctx, l, &dg, o, logw)
	if rep != nil {
		rep.EngineUsage = usage()
	}
	got := make(chan []launcher.Answer, 1)
	go func() {
		defer cancel()
		defer l.Close()
		t0 := time.Now()
		got <- l.Answers(ctx)
		fmt.Fprintf(logw, "agent: engine answers took %s (while rendering)\n", time.Since(t0).Round(10*time.Microsecond))
	}()
	return rep, func(b *bundle.Builder) {
		for _, a := range <-got {
			if a.Err != nil {
				b.Add(a.Name+".error.txt", a.Producer, []byte(a.Err.Error()+"\n"))
				continue
			}
			b.Add(a.Name+".json", a.Producer, a.JSON)
		}
	}, err
}

// lockedBuffer is the agent's log: the probe's stderr may still be
// written to it while the bundle is assembled.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Bytes is a copy of what was written so far.
func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

func writeZip(file string, b *bundle.Builder, m bundle.Manifest, readme string, modTime time.Time) error {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, ".dockprobe-bundle-*.zip")
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := b.Write(tmp, m, readme, modTime); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

func isEmpty(s string) bool { return s == "" }

// bundleReadme is README.md: what the reader has in hand and where to look
// first.
func bundleReadme(m bundle.Manifest, r *probev1.Report) string {
	var sb strings.Builder
	sb.WriteString("# dockprobe diagnostics bundle\n\n")
	fmt.Fprintf(&sb, "Made by agent %s (probe %s, report schema %d) on %s; facts collected %s.\n\n",
		or(m.Tool.AgentVersion, "?"), or(m.Tool.ProbeVersion, "not run"), m.Tool.ReportSchema, m.CreatedAt, m.CollectedAt)
	if m.Reduced {
		sb.WriteString("**This is a reduced bundle: the probe did not run.**\n\nReason: " + m.Reason + "\n\n" +
			"It holds what the engine's API answered and the agent's log; the sections the probe reads (interfaces, routes, mounts, dockerd's flags) are missing.\n\n")
	}
	if n := len(r.GetFindings()); n > 0 {
		fmt.Fprintf(&sb, "## Findings (%d)\n\n", n)
		for _, f := range r.GetFindings() {
			fmt.Fprintf(&sb, "- **%s** `%s` %s\n", f.GetSeverity(), f.GetId(), or(f.GetTitle(), f.GetSummary()))
		}
		sb.WriteString("\n")
	}
	sb.WriteString(`## Where to look

| file | what it is |
|---|---|
| report.html | the report to read first: findings on top, searchable tables, raw JSON per section (open in a browser; it loads nothing from the network) |
| report.txt | the same report as ` + "`agent probe`" + ` prints it |
| report.json, report.yaml | the versioned JSON report; report.schema.json is its JSON Schema (rules in dockprobe's docs/json.md) |
| raw/ | the sources in their original text forms: mountinfo, argv (one argument per line), the daemon config file, ip addr / ip route dumps, the probe container's /etc/hosts |
| engine/ | the engine's own answers: the API's /version, /info, /networks (or nerdctl's version, info and network ls) |
| agent.log | the agent's progress and the probe's own log |
| manifest.json | every file with size, sha256 and producer; versions; timestamps; what was redacted |

Compare two bundles (e.g. before and after connecting a VPN) with
` + "`agent diff before.zip after.zip`" + `.

## Redaction

Secrets were replaced by ` + "`REDACTED`" + ` before anything was written:
URL credentials, passwords, tokens and secrets in key=value, JSON and argv,
Bearer tokens, JWTs, PEM blocks and cloud access keys.
` + "`manifest.json`" + ` (redaction) counts what each rule replaced and where.
`)
	if m.Redaction.Anonymized {
		sb.WriteString("\nHostnames, user names, MACs and non-Docker IP addresses were replaced by pseudonyms (host-1, user-1, 240.x.y.z): equal names are equal, and addresses of one subnet share one fake subnet.\n")
	}
	return sb.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
