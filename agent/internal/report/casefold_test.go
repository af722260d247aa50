package report

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func TestJSONNeverHasKeysDifferingOnlyInCase(t *testing.T) {
	tests := []struct {
		name    string
		config  map[string]any
		folded  bool
		whereIn string
	}{
		{"plain", map[string]any{"features": map[string]any{"buildkit": true}, "debug": true}, false, ""},
		{"same key in two objects", map[string]any{"a": map[string]any{"x": 1}, "b": map[string]any{"X": 1}}, false, ""},
		{"features map", map[string]any{"features": map[string]any{"dockprobe-case": true, "DockProbe-Case": false}}, true, ".daemon.config.features"},
		{"in a list", map[string]any{"default-address-pools": []any{map[string]any{"base": "10.0.0.0/8", "Base": "x"}}}, true, ".daemon.config.default-address-pools[]"},
		{"top level", map[string]any{"debug": true, "Debug": false}, true, ".daemon.config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := structpb.NewValue(tt.config)
			if err != nil {
				t.Fatal(err)
			}
			r := &probev1.Report{Daemon: &probev1.Daemon{ConfigFile: "/etc/docker/daemon.json", Config: v}}
			b, err := MarshalJSON(r)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Daemon struct {
					Config      any    `json:"config"`
					ConfigRaw   string `json:"configRaw"`
					ConfigError string `json:"configError"`
				} `json:"daemon"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if !tt.folded {
				if doc.Daemon.Config == nil || doc.Daemon.ConfigError != "" {
					t.Fatalf("config = %v, error %q; want it passed through", doc.Daemon.Config, doc.Daemon.ConfigError)
				}
				return
			}
			if doc.Daemon.Config != nil {
				t.Fatalf("config = %v, want null", doc.Daemon.Config)
			}
			if !strings.Contains(doc.Daemon.ConfigError, tt.whereIn+" has keys") || !strings.Contains(doc.Daemon.ConfigError, "PowerShell") {
				t.Fatalf("configError = %q, want it to name %s and PowerShell", doc.Daemon.ConfigError, tt.whereIn)
			}
			var back map[string]any
			if err := json.Unmarshal([]byte(doc.Daemon.ConfigRaw), &back); err != nil || len(back) != len(tt.config) {
				t.Fatalf("configRaw %q does not hold the config: %v", doc.Daemon.ConfigRaw, err)
			}
			if r.Daemon.Config == nil {
				t.Fatal("MarshalJSON changed the report it was given")
			}
		})
	}
}
