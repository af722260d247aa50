package cli

import (
	"io"

	"github.com/dockprobe/dockprobe/agent/internal/report"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// render writes the report in the chosen output format.
func render(w io.Writer, rep *probev1.Report, output string) error {
	if output == "json" {
		return report.JSON(w, rep)
	}
	return report.Text(w, rep, report.TextOptions{})
}
