package nerdctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/launch"
)

// Stale lists the probe containers whose deadline has passed: by their own
// label (launch.LabelDeadline) the probe inside has ended, so whatever is
// left is debris of a run whose nerdctl died before its --rm cleanup.
func Stale(ctx context.Context, c *Client, now time.Time) ([]string, error) {
	out, err := c.run(ctx, nil, "ps", "-a", "--filter", "label="+launch.LabelProbe, "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	return staleNames(out, now)
}

// staleNames reads `nerdctl ps --format '{{json .}}'` lines and keeps the
// probes past their deadline.
func staleNames(out []byte, now time.Time) ([]string, error) {
	return probeNames(out, func(labels map[string]string) bool {
		dl, err := strconv.ParseInt(labels[launch.LabelDeadline], 10, 64)
		return err == nil && !now.Before(time.Unix(dl, 0))
	})
}

// probeNames reads `nerdctl ps --format '{{json .}}'` lines and returns
// the names of the probe containers whose labels keep accepts.
func probeNames(out []byte, keep func(labels map[string]string) bool) ([]string, error) {
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var ps struct {
			ID     string
			Names  string
			Labels map[string]string
		}
		if err := json.Unmarshal([]byte(line), &ps); err != nil {
			return names, fmt.Errorf("decode nerdctl ps: %w (line %q)", err, clip([]byte(line)))
		}
		if ps.Labels[launch.LabelProbe] != "true" {
			continue
		}
		if !keep(ps.Labels) {
			continue
		}
		name := ps.Names
		if name == "" {
			name = ps.ID
		}
		names = append(names, name)
	}
	return names, nil
}

// Sweep removes the stale probe containers and returns their names. It
// never touches a container whose deadline is still ahead.
func Sweep(ctx context.Context, c *Client, now time.Time) ([]string, error) {
	names, err := Stale(ctx, c, now)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	if _, err := c.run(ctx, nil, append([]string{"rm", "-f"}, names...)...); err != nil {
		return nil, err
	}
	return names, nil
}
