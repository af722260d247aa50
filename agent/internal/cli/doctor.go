package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/checks"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrDoctorFindings is returned by doctor when a check found an
// error-severity problem (exit ExitDoctorErrors; warnings alone exit 0).
// The findings are already printed, so it is Silent.
var ErrDoctorFindings = errors.New("doctor found error-severity problems")

type doctorOptions struct {
	output     string
	timeout    time.Duration
	targetPID  int
	privileged bool
	rt         runtimeOptions
}

func init() { register(newDoctorCmd) }

func newDoctorCmd(g *globalOptions) *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Run the probe and the checks; one PASS/WARN/FAIL/SKIP line per check",
		Long: `doctor runs the probe, works out what the facts mean (interface roles, the
Docker subnet, overlaps with the host's routes, the next network's subnet,
host-gateway, host shares and Kubernetes hostPath, dockerd's configuration)
and prints one line per check. A check whose prerequisite did not pass is
SKIP, not FAIL. Every check ID is documented in docs/findings.md.

Exit status: 0 when no check found an error (warnings do not count) and
non-zero when one did (see docs/findings.md); when the probe cannot run,
the reduced report's checks are printed and the exit code says why, as for
agent probe (README.md).`,
		Example: `  agent doctor
  agent doctor -o json | jq '.findings[] | select(.status=="fail")'
  (agent doctor -o json | ConvertFrom-Json).findings | Format-Table id, status, summary`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "text" && o.output != "json" {
				return fmt.Errorf("%w: --output must be text or json, got %q", ErrUsage, o.output)
			}
			if o.timeout <= 0 {
				return fmt.Errorf("%w: --timeout must be positive, got %s", ErrUsage, o.timeout)
			}
			if cmd.Flags().Changed("timeout") {
				o.rt.kube.runTimeout = o.timeout
			}
			return runDoctor(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json (the whole report with its findings)")
	f.DurationVar(&o.timeout, "timeout", 60*time.Second, timeoutHelp)
	f.IntVar(&o.targetPID, "target-pid", 0, "collect from this pid instead of the dockerd serving the engine")
	f.BoolVar(&o.privileged, "privileged", false, "run the probe with --privileged (fallback only)")
	o.rt.addFlags(f)
	return cmd
}

func runDoctor(ctx context.Context, g *globalOptions, o *doctorOptions, stdout, stderr io.Writer) error {
	if o.rt.runtime == RuntimeKube {
		if err := o.rt.validate(g); err != nil {
			return err
		}
		if err := o.rt.kubeFlags(o.privileged, o.targetPID); err != nil {
			return err
		}
		return runClusterDoctor(ctx, g, o, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := o.rt.validate(g); err != nil {
		return err
	}
	l, err := o.rt.open(ctx, g, launchOptions{probeDeadline: probeDeadline(o.timeout), watchdog: true, warn: stderr})
	if err != nil {
		return doctorBlocked(err, stdout, o.output)
	}
	defer l.Close()
	po := &probeOptions{targetPID: o.targetPID, timeout: o.timeout, privileged: o.privileged}
	po.output.format = o.output
	usage := startUsage(ctx, l)
	rep, runErr := gather(ctx, l, g, po, stderr)
	if interrupted(ctx) {
		return context.Cause(ctx) // no verdicts on a run the user stopped
	}
	if rep == nil {
		return doctorBlocked(runErr, stdout, o.output)
	}
	rep.EngineUsage = usage()
	analyzeWith(rep, l.ContainerNames(ctx))
	if err := writeDoctor(stdout, rep, o.output); err != nil {
		return err
	}
	if runErr != nil {
		// The probe could not run: the report above is the reduced one
		// and the probe's own exit code says why.
		return runErr
	}
	if checks.Worst(rep.GetFindings()) == checks.Error {
		return ErrDoctorFindings
	}
	return nil
}

// doctorBlocked reports a run that got no report at all (engine not
// running, permission denied on its socket) as one FAIL line.
func doctorBlocked(err error, w io.Writer, output string) error {
	cause, fix, _ := checks.Classify(err.Error(), nil)
	f := &probev1.Finding{Id: "engine.reachable", Title: "The engine answers", Severity: checks.Error, Status: checks.Fail,
		Summary: cause + ": " + err.Error(), Fix: fix}
	if strings.Contains(strings.ToLower(err.Error()), "permission denied") {
		f.Fix = "run as a user allowed to use the engine (the docker group on Linux, docker-users on Windows)"
	} else {
		f.Fix = "start Docker Desktop (or dockerd) and check DOCKER_HOST / the docker context"
	}
	_ = writeDoctor(w, &probev1.Report{SchemaVersion: probev1.SchemaVersion, Findings: []*probev1.Finding{f}}, output)
	return err
}

func writeDoctor(w io.Writer, rep *probev1.Report, output string) error {
	if output == "json" {
		return renderJSONReport(w, rep)
	}
	return doctorText(w, scrubReport(rep).GetFindings())
}

// doctorText prints one line per check, then the evidence and fix of the
// ones that did not pass.
func doctorText(w io.Writer, fs []*probev1.Finding) error {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%-4s  %-28s %s\n", strings.ToUpper(f.GetStatus()), f.GetId(), f.GetSummary())
		if f.GetStatus() == checks.Fail || f.GetStatus() == checks.Warn {
			for _, e := range f.GetEvidence() {
				fmt.Fprintf(&b, "      %-28s - %s\n", "", e)
			}
			if f.GetFix() != "" {
				fmt.Fprintf(&b, "      %-28s fix: %s\n", "", f.GetFix())
			}
			if f.GetDocUrl() != "" {
				fmt.Fprintf(&b, "      %-28s see: %s\n", "", f.GetDocUrl())
			}
		}
	}
	counts := map[string]int{}
	for _, f := range fs {
		counts[f.GetStatus()]++
	}
	fmt.Fprintf(&b, "\n%d checks: %d pass, %d warn, %d fail, %d skip\n", len(fs), counts[checks.Pass], counts[checks.Warn], counts[checks.Fail], counts[checks.Skip])
	_, err := io.WriteString(w, b.String())
	return err
}

// renderJSONReport writes the report as JSON through the same renderer as
// `agent probe -o json` (secrets redacted).
func renderJSONReport(w io.Writer, rep *probev1.Report) error {
	return render(w, rep, outputOptions{format: "json"})
}
