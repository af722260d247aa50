// Package checks turns a Report (with its knowledge filled in by package
// knowledge) into findings: each check has a stable ID, declares the checks
// it needs first, and returns one Finding with a severity, a summary, the
// evidence it used, a fix and a documentation link. A check whose
// prerequisite did not pass is skipped, never failed. docs/findings.md
// lists every ID; the IDs are a public contract, never reused.
package checks

import (
	"cmp"
	"slices"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Severities, from least to most severe.
const (
	OK      = "ok"
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// Statuses, as doctor prints them.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
	Skip = "skip"
)

// Check is one named test of the report.
type Check struct {
	ID    string
	Title string
	// Requires lists the IDs of checks that must pass (or warn) first.
	Requires []string
	DocURL   string
	Run      func(rep *probev1.Report) *probev1.Finding
}

// Rank orders severities: ok 0 ... error 3.
func Rank(sev string) int {
	switch sev {
	case Info:
		return 1
	case Warning:
		return 2
	case Error:
		return 3
	}
	return 0
}

func statusOf(sev string) string {
	switch sev {
	case Warning:
		return Warn
	case Error:
		return Fail
	}
	return Pass
}

// Run runs every check in order and returns the findings, most severe
// first (ties keep check order).
func Run(rep *probev1.Report) []*probev1.Finding {
	return RunChecks(All(), rep)
}

// RunChecks runs cs in order: a check whose prerequisite failed or was
// skipped is skipped itself.
func RunChecks(cs []Check, rep *probev1.Report) []*probev1.Finding {
	status := map[string]string{}
	var out []*probev1.Finding
	for _, c := range cs {
		var f *probev1.Finding
		for _, r := range c.Requires {
			if st := status[r]; st == Fail || st == Skip || st == "" {
				f = &probev1.Finding{Severity: OK, Status: Skip, Summary: "skipped: prerequisite " + r + " did not pass"}
				break
			}
		}
		if f == nil {
			f = c.Run(rep)
			if f.Status == "" {
				f.Status = statusOf(f.Severity)
			}
		}
		f.Id, f.Title = c.ID, c.Title
		if f.DocUrl == "" {
			f.DocUrl = c.DocURL
		}
		status[c.ID] = f.Status
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b *probev1.Finding) int { return cmp.Compare(Rank(b.Severity), Rank(a.Severity)) })
	return out
}

// Worst returns the most severe severity among findings (ok when none).
func Worst(fs []*probev1.Finding) string {
	w := OK
	for _, f := range fs {
		if f.GetStatus() != Skip && Rank(f.GetSeverity()) > Rank(w) {
			w = f.GetSeverity()
		}
	}
	return w
}

func finding(sev, summary string, evidence []string, fix string) *probev1.Finding {
	return &probev1.Finding{Severity: sev, Summary: summary, Evidence: evidence, Fix: fix}
}

func skip(summary string, evidence ...string) *probev1.Finding {
	return &probev1.Finding{Severity: OK, Status: Skip, Summary: summary, Evidence: evidence}
}
