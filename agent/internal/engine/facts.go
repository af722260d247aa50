package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Sections of the report that Facts fills (launcher's, the same for every
// runtime).
const (
	SectionVersion  = launcher.SectionVersion
	SectionInfo     = launcher.SectionInfo
	SectionNetworks = launcher.SectionNetworks
)

// BridgeNameOption is the network option that names a bridge network's Linux
// bridge (docker0 for the default "bridge" network).
const BridgeNameOption = "com.docker.network.bridge.name"

// API is the part of the Docker client that Facts reads; *client.Client
// implements it, and tests may fake it.
type API interface {
	ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error)
	Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error)
	NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error)
	ClientVersion() string
}

// rawAPI is what a *client.Client adds to API: a way to re-read an endpoint
// when the client's strict decoding rejects what an older engine sends.
type rawAPI interface {
	Dialer() func(context.Context) (net.Conn, error)
	DaemonHost() string
}

// Facts asks the engine about itself (version, info and networks, in
// parallel) and returns everything it learned, shaped as every runtime's
// facts are (launcher.Facts). ep supplies host (redacted) and context.
// host_gateway_ip is not an API fact; the launcher fills it from the
// probe's /etc/hosts.
func Facts(ctx context.Context, api API, ep endpoint.Endpoint) (*probev1.Engine, []*probev1.SectionError) {
	e, errs := launcher.Facts(ctx, &probev1.Engine{Host: ep.Redacted(), Context: ep.Context}, launcher.Sources{
		Version: func(ctx context.Context) (launcher.Version, error) {
			v, err := api.ServerVersion(ctx, client.ServerVersionOptions{})
			return launcher.Version{Version: v.Version, MinAPIVersion: v.MinAPIVersion, Os: v.Os, Arch: v.Arch}, err
		},
		Info:     func(ctx context.Context) (launcher.Info, error) { return readInfo(ctx, api) },
		Networks: func(ctx context.Context) ([]*probev1.Network, error) { return readNetworks(ctx, api) },
		Failed: func(section, what string, err error) *probev1.SectionError {
			return sectionError(section, what, err, ep.Host)
		},
	})
	// Every call above has negotiated by now (or the version is pinned).
	e.ApiVersion = api.ClientVersion()
	return e, errs
}

// readInfo reads the part of /info the report keeps. Decoding only these
// fields also keeps old engines readable when the client's full type
// rejects some other field (moby/moby#52728).
// infoFacts is what readInfo decodes: the shared facts and the engine's
// clock, bracketed by the agent's (asked, answered: not part of /info).
type infoFacts struct {
	launcher.Info
	SystemTime      string
	asked, answered time.Time
}

// Now is the agent's clock; tests replace it.
var Now = time.Now

func readInfo(ctx context.Context, api API) (launcher.Info, error) {
	asked := Now()
	res, err := api.Info(ctx, client.InfoOptions{})
	if err == nil {
		i := res.Info
		return engineClock(infoFacts{
			Info: launcher.Info{
				ID: i.ID, Name: i.Name, ServerVersion: i.ServerVersion,
				OperatingSystem: i.OperatingSystem, OSType: i.OSType, Architecture: i.Architecture,
				KernelVersion: i.KernelVersion, DockerRootDir: i.DockerRootDir,
				CgroupDriver: i.CgroupDriver, DefaultRuntime: i.DefaultRuntime,
				SecurityOptions: i.SecurityOptions,
				HTTPProxy:       i.HTTPProxy, HTTPSProxy: i.HTTPSProxy, NoProxy: i.NoProxy,
			},
			SystemTime: i.SystemTime, asked: asked, answered: Now(),
		}), nil
	}
	var facts infoFacts
	if lenient(ctx, api, err, "/info", &facts) {
		facts.asked, facts.answered = asked, Now()
		return engineClock(facts), nil
	}
	return launcher.Info{}, err
}

// engineClock is info with the engine's SystemTime bracketed by the
// agent's clock.
func engineClock(info infoFacts) launcher.Info {
	c := &probev1.ClockReading{Raw: info.SystemTime, Asked: timestamppb.New(info.asked), Answered: timestamppb.New(info.answered)}
	info.Info.Clock = c
	t, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	if err != nil {
		c.Error = fmt.Sprintf("the engine's SystemTime %q is not RFC 3339", info.SystemTime)
		return info.Info
	}
	c.Remote = timestamppb.New(t)
	return info.Info
}

// lenientNetwork is network.Summary with the addresses as plain strings:
// engines up to 26.x may report an IPv6 gateway as "fd00::1/64", which the
// client's netip fields refuse, failing the whole list (moby/moby#52991).
type lenientNetwork struct {
	Name       string
	ID         string `json:"Id"`
	Driver     string
	Scope      string
	Internal   bool
	EnableIPv6 bool
	Options    map[string]string
	IPAM       struct {
		Config []struct {
			Subnet  string
			Gateway string
			IPRange string
		}
	}
}

func readNetworks(ctx context.Context, api API) ([]*probev1.Network, error) {
	res, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err == nil {
		return convertNetworks(res.Items), nil
	}
	var raw []lenientNetwork
	if !lenient(ctx, api, err, "/networks", &raw) {
		return nil, err
	}
	out := make([]*probev1.Network, 0, len(raw))
	for _, n := range raw {
		pn := &probev1.Network{
			Name: n.Name, Id: n.ID, Driver: n.Driver, Scope: n.Scope,
			Internal: n.Internal, EnableIpv6: n.EnableIPv6,
			Options: n.Options, Bridge: BridgeName(n.Driver, n.ID, n.Options),
		}
		for _, c := range n.IPAM.Config {
			pn.Subnets = append(pn.Subnets, &probev1.Subnet{Subnet: c.Subnet, Gateway: stripPrefix(c.Gateway), IpRange: c.IPRange})
		}
		out = append(out, pn)
	}
	sortNetworks(out)
	return out, nil
}

func convertNetworks(items []network.Summary) []*probev1.Network {
	out := make([]*probev1.Network, 0, len(items))
	for _, n := range items {
		pn := &probev1.Network{
			Name: n.Name, Id: n.ID, Driver: n.Driver, Scope: n.Scope,
			Internal: n.Internal, EnableIpv6: n.EnableIPv6,
			Options: n.Options, Bridge: BridgeName(n.Driver, n.ID, n.Options),
		}
		for _, c := range n.IPAM.Config {
			pn.Subnets = append(pn.Subnets, &probev1.Subnet{
				Subnet:  prefixString(c.Subnet),
				Gateway: addrString(c.Gateway),
				IpRange: prefixString(c.IPRange),
			})
		}
		out = append(out, pn)
	}
	sortNetworks(out)
	return out
}

func sortNetworks(n []*probev1.Network) {
	slices.SortStableFunc(n, func(a, b *probev1.Network) int { return strings.Compare(a.Name, b.Name) })
}

// BridgeName is the Linux bridge behind a network: the bridge.name option
// when set (docker0 for the default network), else br-<first 12 of the id>
// for a bridge-driver network, else "".
func BridgeName(driver, id string, options map[string]string) string {
	if name := options[BridgeNameOption]; name != "" {
		return name
	}
	if driver != "bridge" || id == "" {
		return ""
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return "br-" + id
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func stripPrefix(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().String()
	}
	return s
}

// lenient re-reads path from the engine without the client's typed decoding
// and decodes it into v. It only tries when the typed call reached the
// engine (not a connection or context failure) and api can dial.
func lenient(ctx context.Context, api API, typedErr error, path string, v any) bool {
	raw, ok := api.(rawAPI)
	if !ok || ctx.Err() != nil || client.IsErrConnectionFailed(typedErr) {
		return false
	}
	body, err := rawGet(ctx, raw, api.ClientVersion(), path)
	if err != nil {
		return false
	}
	return json.Unmarshal(body, v) == nil
}

func rawGet(ctx context.Context, raw rawAPI, apiVersion, path string) ([]byte, error) {
	u, err := client.ParseHostURL(raw.DaemonHost())
	if err != nil {
		return nil, err
	}
	dial := raw.Dialer()
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true,
	}}
	hostHeader := client.DummyHost
	if u.Scheme == "tcp" {
		hostHeader = u.Host
	}
	url := "http://" + hostHeader + strings.TrimSuffix(u.Path, "/") + "/v" + apiVersion + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// sectionError turns a failed call into a report error with a gRPC-style
// code name, keeping credentials out of the message.
func sectionError(section, what string, err error, rawHost string) *probev1.SectionError {
	code := "Unknown"
	var unreachable *UnreachableError
	switch {
	case errors.As(err, &unreachable):
		code = "Unavailable"
	case client.IsErrConnectionFailed(err):
		code = "Unavailable"
		err = Unreachable(rawHost, err)
	case errors.Is(err, context.DeadlineExceeded):
		code = "DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		code = "Canceled"
	case cerrdefs.IsNotFound(err):
		code = "NotFound"
	case cerrdefs.IsPermissionDenied(err), cerrdefs.IsUnauthorized(err):
		code = "PermissionDenied"
	case cerrdefs.IsInvalidArgument(err):
		code = "InvalidArgument"
	case cerrdefs.IsNotImplemented(err):
		code = "Unimplemented"
	case cerrdefs.IsUnavailable(err):
		code = "Unavailable"
	case cerrdefs.IsInternal(err):
		code = "Internal"
	}
	return &probev1.SectionError{
		Section: section,
		Message: redact(fmt.Errorf("%s: %w", what, err), rawHost).Error(),
		Code:    code,
	}
}
