package nerdctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/dockprobe/dockprobe/internal/cni"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Sections of the report Facts fills, the same names as the Docker path's.
const (
	SectionVersion  = "engine.version"
	SectionInfo     = "engine.info"
	SectionNetworks = "engine.networks"
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

// Info is the part of `nerdctl info` the report keeps.
type Info struct {
	ID              string
	Name            string
	ServerVersion   string
	OperatingSystem string
	OSType          string
	Architecture    string
	KernelVersion   string
	CgroupDriver    string
	CgroupVersion   string
	Driver          string
	SecurityOptions []string
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

// Info runs `nerdctl info`.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	out, err := c.run(ctx, nil, "info", "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	var i Info
	if err := json.Unmarshal(out, &i); err != nil {
		return nil, fmt.Errorf("decode nerdctl info: %w (output %q)", err, clip(out))
	}
	return &i, nil
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
// parallel) and maps the answers onto the report's Engine: server_version
// is containerd's, os/kernel/architecture/cgroup come from info, host is
// the nerdctl endpoint and docker_root_dir stays empty (there is no
// dockerd). A failing call leaves its fields empty and adds a SectionError.
func Facts(ctx context.Context, c *Client) (*probev1.Engine, []*probev1.SectionError) {
	var (
		wg                    sync.WaitGroup
		ver                   *Version
		info                  *Info
		nets                  []*probev1.Network
		verErr, infoErr, nErr error
	)
	wg.Go(func() { ver, verErr = c.Version(ctx) })
	wg.Go(func() { info, infoErr = c.Info(ctx) })
	wg.Go(func() { nets, nErr = c.Networks(ctx) })
	wg.Wait()

	e := &probev1.Engine{Host: c.Describe(), Networks: nets, DefaultRuntime: "runc"}
	var errs []*probev1.SectionError
	if verErr != nil {
		errs = append(errs, sectionError(SectionVersion, verErr))
	}
	if ver != nil {
		e.ServerVersion = ver.Component("containerd")
	}
	if infoErr != nil {
		errs = append(errs, sectionError(SectionInfo, infoErr))
	} else {
		e.Name = info.Name
		e.Id = info.ID
		e.Os = info.OperatingSystem
		e.OsType = info.OSType
		e.Architecture = info.Architecture
		e.KernelVersion = info.KernelVersion
		e.CgroupDriver = info.CgroupDriver
		e.SecurityOptions = info.SecurityOptions
		if e.ServerVersion == "" {
			e.ServerVersion = info.ServerVersion
		}
	}
	if nErr != nil {
		errs = append(errs, sectionError(SectionNetworks, nErr))
	}
	return e, errs
}

func sectionError(section string, err error) *probev1.SectionError {
	return &probev1.SectionError{Section: section, Message: err.Error(), Code: "Unavailable"}
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
