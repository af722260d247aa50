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

// staleNames reads `nerdctl ps --format '{{json .}}'` lines.
func staleNames(out []byte, now time.Time) ([]string, error) {
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
		dl, err := strconv.ParseInt(ps.Labels[launch.LabelDeadline], 10, 64)
		if err != nil || now.Before(time.Unix(dl, 0)) {
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

// Sweep removes the stale probe containers and returns how many it
// removed. It never touches a container whose deadline is still ahead.
func Sweep(ctx context.Context, c *Client, now time.Time) (int, error) {
	names, err := Stale(ctx, c, now)
	if err != nil || len(names) == 0 {
		return 0, err
	}
	if _, err := c.run(ctx, nil, append([]string{"rm", "-f"}, names...)...); err != nil {
		return 0, err
	}
	return len(names), nil
}
