package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// MarshalJSON renders the cluster report as report.MarshalJSON renders one
// node's: protojson with every field present, lowerCamelCase names,
// re-indented so the bytes are stable for diffs and golden files. The
// output is not redacted: run the agent's redaction over the report first,
// as for a single report.
func MarshalJSON(r *probev1.ClusterReport) ([]byte, error) {
	raw, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("marshal cluster report as JSON: %w", err)
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
