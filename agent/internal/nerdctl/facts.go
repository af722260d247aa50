package nerdctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/internal/cni"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Version is what `nerdctl version` prints (docker-compatible, with
// containerd and runc as server components).
type Version struct {
	Client struct {
		Version string
		Os      string
		Arch    string
	}
	Server *struct {
		Components []struct {
			Name    string
			Version string
		}
	}
}

// Component returns a server component's version ("containerd", "runc").
func (v *Version) Component(name string) string {
	if v.Server == nil {
		return ""
	}
	for _, c := range v.Server.Components {
		if c.Name == name {
			return c.Version
		}
	}
	return ""
}

// Version runs `nerdctl version`. It fails when containerd does not
// answer.
func (c *Client) Version(ctx context.Context) (*Version, error) {
	out, err := c.run(ctx, nil, "version", "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	var v Version
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("decode nerdctl version: %w (output %q)", err, clip(out))
	}
	if v.Component("containerd") == "" {
		return &v, fmt.Errorf("%w: nerdctl version: containerd did not answer", ErrCommand)
	}
	return &v, nil
}

// Info runs `nerdctl info` and keeps what the report does. nerdctl's info
// is docker's in form; it has no data root of dockerd's kind and no
// default runtime.
func (c *Client) Info(ctx context.Context) (launcher.Info, error) {
	out, err := c.run(ctx, nil, "info", "--format", "{{json .}}")
	if err != nil {
		return launcher.Info{}, err
	}
	var i launcher.Info
	if err := json.Unmarshal(out, &i); err != nil {
		return launcher.Info{}, fmt.Errorf("decode nerdctl info: %w (output %q)", err, clip(out))
	}
	return i, nil
}

type listedNetwork struct {
	ID   string
	Name string
}

// Networks lists nerdctl's networks. CNI networks are read back in
// nerdctl's native form (the CNI configuration itself) and parsed like the
// probe parses /etc/cni/net.d, so bridge names and subnets are the real
// ones; host and none have no configuration and are reported as drivers
// "host" and "null", as Docker does.
func (c *Client) Networks(ctx context.Context) ([]*probev1.Network, error) {
	out, err := c.run(ctx, nil, "network", "ls", "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	listed, err := parseList(out)
	if err != nil {
		return nil, err
	}
	var nets []*probev1.Network
	var names []string
	for _, l := range listed {
		switch l.Name {
		case "host":
			nets = append(nets, &probev1.Network{Name: "host", Driver: "host", Scope: "local"})
		case "none":
			nets = append(nets, &probev1.Network{Name: "none", Driver: "null", Scope: "local"})
		default:
			names = append(names, l.Name)
		}
	}
	if len(names) == 0 {
		return nets, nil
	}
	out, err = c.run(ctx, nil, append([]string{"network", "inspect", "--mode", "native"}, names...)...)
	if err != nil {
		return nets, err
	}
	cniNets, err := ParseNative(out)
	return append(cniNets, nets...), err
}

// ParseList reads `nerdctl network ls --format '{{json .}}'`: one JSON
// object per line.
func parseList(out []byte) ([]listedNetwork, error) {
	var ls []listedNetwork
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var l listedNetwork
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			return nil, fmt.Errorf("decode nerdctl network ls: %w (line %q)", err, clip([]byte(line)))
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// ParseNative reads `nerdctl network inspect --mode native`: a JSON array
// of {CNI: <conflist>, NerdctlID, File}. A network whose CNI configuration
// does not parse is kept by name, with the error in its options.
func ParseNative(out []byte) ([]*probev1.Network, error) {
	var raw []struct {
		CNI       json.RawMessage
		NerdctlID *string
		File      string
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("decode nerdctl network inspect: %w (output %q)", err, clip(out))
	}
	var nets []*probev1.Network
	for _, r := range raw {
		n, err := cni.Parse(strings.NewReader(string(r.CNI)))
		if err != nil {
			nets = append(nets, &probev1.Network{Options: map[string]string{"cni.error": err.Error(), "cni.file": r.File}})
			continue
		}
		pn := n.Proto(r.File)
		if pn.Id == "" && r.NerdctlID != nil {
			pn.Id = *r.NerdctlID
		}
		nets = append(nets, pn)
	}
	return nets, nil
}

// Facts asks nerdctl about containerd (version, info and networks, in
// parallel) and shapes the answers as every runtime's facts are
// (launcher.Facts): server_version is containerd's, os/kernel/architecture/
// cgroup come from info, host is the nerdctl endpoint and docker_root_dir
// stays empty (there is no dockerd).
func Facts(ctx context.Context, c *Client) (*probev1.Engine, []*probev1.SectionError) {
	return launcher.Facts(ctx, &probev1.Engine{Host: c.Describe(), DefaultRuntime: "runc"}, launcher.Sources{
		Version: func(ctx context.Context) (launcher.Version, error) {
			v, err := c.Version(ctx)
			if err != nil {
				return launcher.Version{}, err
			}
			return launcher.Version{Version: v.Component("containerd")}, nil
		},
		Info:     c.Info,
		Networks: c.Networks,
		// nerdctl's own message says what failed.
		Failed: func(section, _ string, err error) *probev1.SectionError {
			return &probev1.SectionError{Section: section, Message: err.Error(), Code: "Unavailable"}
		},
	})
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
