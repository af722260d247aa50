package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/dockprobe/dockprobe/agent/internal/cluster"
	"github.com/dockprobe/dockprobe/agent/internal/redact"
	"github.com/dockprobe/dockprobe/agent/internal/report"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// outputOptions say how a report is written: format, --format template,
// colour and anonymization. Redaction is not an option: every report goes
// through redact.Scrubber in render.
type outputOptions struct {
	format      string
	template    string
	noColor     bool
	anonymize   bool
	mappingFile string
	// progress, when set, is cleared before the report is written.
	progress *progressLine
}

func (o *outputOptions) addFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.format, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	f.StringVar(&o.template, "format", "", "print the report through a Go template, like docker's --format; it sees the JSON document (e.g. '{{json .interfaces}}', '{{.engine.hostGatewayIp}}')")
	f.BoolVar(&o.noColor, "no-color", false, "never colour the text report (colour is used only on a terminal; NO_COLOR works too)")
	f.BoolVar(&o.anonymize, "anonymize", false, "replace hostnames, user names, MACs and non-Docker IP addresses with consistent pseudonyms (secrets are always redacted)")
	f.StringVar(&o.mappingFile, "mapping-file", "", "with --anonymize, write the real-to-pseudonym mapping to this local file (never into the output)")
}

func (o *outputOptions) validate() error {
	if !slices.Contains(report.Formats, o.format) {
		return fmt.Errorf("%w: --output must be one of %s, got %q", ErrUsage, strings.Join(report.Formats, ", "), o.format)
	}
	if o.template != "" {
		if _, err := report.ParseTemplate(o.template); err != nil {
			return fmt.Errorf("%w: --format: %w", ErrUsage, err)
		}
	}
	if o.mappingFile != "" && !o.anonymize {
		return fmt.Errorf("%w: --mapping-file needs --anonymize", ErrUsage)
	}
	return nil
}

// scrubber is the one redactor of a run: its pseudonyms are consistent
// across every file written from one report.
func (o *outputOptions) scrubber() *redact.Scrubber {
	if o.anonymize {
		return redact.New(redact.NewAnonymizer())
	}
	return redact.New(nil)
}

// render writes the report in the chosen output format, after redaction.
// It is the only way a report reaches stdout.
func render(w io.Writer, rep *probev1.Report, o outputOptions) error {
	o.progress.Done()
	s := o.scrubber()
	clean := s.Report(rep)
	err := report.Write(w, clean, report.Options{Format: o.format, Template: o.template, Color: useColor(w, o.noColor)})
	if err != nil {
		return err
	}
	if s.Anon != nil && o.mappingFile != "" {
		return writeMapping(o.mappingFile, s.Anon)
	}
	return nil
}

// renderCluster is render for a cluster report: the same redaction (the
// server URL, every node's report) and formats.
func renderCluster(w io.Writer, rep *probev1.ClusterReport, o outputOptions) error {
	o.progress.Done()
	s := o.scrubber()
	clean := s.Cluster(rep)
	if err := cluster.Write(w, clean, report.Options{Format: o.format, Template: o.template, Color: useColor(w, o.noColor)}); err != nil {
		return err
	}
	if s.Anon != nil && o.mappingFile != "" {
		return writeMapping(o.mappingFile, s.Anon)
	}
	return nil
}

// writeMapping keeps the pseudonym table in a local file only the user can
// read.
func writeMapping(path string, a *redact.Anonymizer) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write the anonymization mapping: %w", err)
	}
	if err := os.WriteFile(path, a.MappingJSON(), 0o600); err != nil {
		return fmt.Errorf("write the anonymization mapping: %w", err)
	}
	return nil
}

// useColor is true only for a terminal, without --no-color, NO_COLOR or
// TERM=dumb.
func useColor(w io.Writer, noColor bool) bool {
	if noColor || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// isTerminal reports whether w is a console or terminal (a character
// device) that understands ANSI codes; a pipe or a file is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && f.Name() != os.DevNull && enableANSI(f)
}

// scrubReport is the redaction every command that prints report content
// without render (its own text layouts) must apply first.
func scrubReport(rep *probev1.Report) *probev1.Report { return redact.New(nil).Report(rep) }
