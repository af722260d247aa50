// Package report renders a probev1.Report for people and for scripts: JSON
// (the versioned contract: lowerCamelCase names, every field always present,
// stable formatting) and Text (aligned sections for a terminal). The JSON
// paths scripts may rely on live in proto/probe/v1/contract.
//
// It renders what it is given and never collects or judges; a partial
// report (sections missing, Report.errors filled) renders everything it has.
// The text report says "not collected" for an empty section when an error
// names it, its parent or a part of it; section names are the proto field
// paths: "target", "daemon", "interfaces", "routes", "mounts", "processes",
// "engine", "engine.networks", "engine.host_gateway_ip", ...
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// JSON writes r as indented JSON: lowerCamelCase names, every field present
// (zero values and empty lists included, so that PowerShell's
// ConvertFrom-Json always finds them), UTF-8 without BOM, one trailing
// newline. A missing top-level section is written as an empty object, not
// null; the report's errors say why it is empty.
func JSON(w io.Writer, r *probev1.Report) error {
	b, err := MarshalJSON(r)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// MarshalJSON is JSON into a byte slice.
func MarshalJSON(r *probev1.Report) ([]byte, error) {
	raw, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(foldSafeConfig(complete(r)))
	if err != nil {
		return nil, fmt.Errorf("marshal report as JSON: %w", err)
	}
	// protojson varies its whitespace on purpose; re-indenting makes the
	// output byte-stable for diffs and golden files.
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fmt.Errorf("compact report JSON: %w", err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("indent report JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// complete returns r, or a copy with its nil top-level messages set to empty
// ones, so that paths such as .target.pid always exist.
func complete(r *probev1.Report) *probev1.Report {
	if r == nil {
		r = &probev1.Report{}
	}
	if r.Tool != nil && r.Engine != nil && r.Target != nil && r.Daemon != nil && r.Container != nil {
		return r
	}
	c := proto.CloneOf(r)
	if c.Tool == nil {
		c.Tool = &probev1.Tool{}
	}
	if c.Engine == nil {
		c.Engine = &probev1.Engine{}
	}
	if c.Target == nil {
		c.Target = &probev1.Target{}
	}
	if c.Daemon == nil {
		c.Daemon = &probev1.Daemon{}
	}
	if c.Container == nil {
		c.Container = &probev1.ProbeContainer{}
	}
	return c
}
