package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Responses of a Docker Desktop engine (API 1.41), trimmed to what Facts reads.
const (
	desktopVersion = `{"Platform":{"Name":"Docker Desktop 4.12.0 (85629)"},"Version":"20.10.17","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64","KernelVersion":"5.10.124-linuxkit"}`
	desktopInfo    = `{"ID":"3X4M:PL3","Name":"docker-desktop","ServerVersion":"20.10.17","OperatingSystem":"Docker Desktop","OSType":"linux","Architecture":"x86_64","KernelVersion":"5.10.124-linuxkit","DockerRootDir":"/var/lib/docker","CgroupDriver":"cgroupfs","DefaultRuntime":"runc","SecurityOptions":["name=seccomp,profile=default","name=cgroupns"],"HttpProxy":"http://user:pw@proxy.corp:3128","HttpsProxy":"http://proxy.corp:3128","NoProxy":"localhost,host.docker.internal","SystemTime":"2026-12-01T04:00:07.5Z"}`
	// Unsorted on purpose; "mynet" has no bridge.name option.
	desktopNetworks = `[
 {"Name":"none","Id":"10b3eb0cb1bf","Scope":"local","Driver":"null","IPAM":{"Driver":"default","Config":[]},"Options":{}},
 {"Name":"mynet","Id":"6b1a2f3c4d5e6f708192a3b4","Scope":"local","Driver":"bridge","EnableIPv6":true,"Internal":true,
  "IPAM":{"Driver":"default","Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1","IPRange":"172.18.5.0/24"},{"Subnet":"fd00:1::/64","Gateway":"fd00:1::1"}]},"Options":{}},
 {"Name":"bridge","Id":"f62da0afc63d3c07","Scope":"local","Driver":"bridge",
  "IPAM":{"Driver":"default","Config":[{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}]},
  "Options":{"com.docker.network.bridge.default_bridge":"true","com.docker.network.bridge.name":"docker0","com.docker.network.driver.mtu":"1500"}},
 {"Name":"host","Id":"c0f5f821358b","Scope":"local","Driver":"host","IPAM":{"Driver":"default","Config":[]},"Options":{}}
]`
)

// fakeEngine serves the few Engine API paths Facts uses. An empty body
// answers 500.
type fakeEngine struct {
	apiVersion string
	version    string
	info       string
	networks   string
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", f.apiVersion)
	w.Header().Set("Ostype", "linux")
	path := r.URL.Path
	if path == "/_ping" {
		_, _ = w.Write([]byte("OK"))
		return
	}
	prefix := "/v" + f.apiVersion
	if !strings.HasPrefix(path, prefix+"/") {
		http.Error(w, `{"message":"unexpected API version in `+path+`"}`, http.StatusBadRequest)
		return
	}
	body := map[string]string{"/version": f.version, "/info": f.info, "/networks": f.networks}[strings.TrimPrefix(path, prefix)]
	if body == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"message":"boom"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
}

func startFake(t *testing.T, f *fakeEngine) (*client.Client, endpoint.Endpoint) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ep := endpoint.Endpoint{Context: "fake", Host: "tcp://admin:s3cret@" + srv.Listener.Addr().String()}
	c, err := New(context.Background(), ep)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ep
}

// fakeClock makes Now return start, start+10ms, ... for the test.
func fakeClock(t *testing.T, start time.Time) {
	t.Helper()
	old, n := Now, 0
	var mu sync.Mutex
	Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return start.Add(time.Duration(n-1) * 10 * time.Millisecond)
	}
	t.Cleanup(func() { Now = old })
}

func TestFactsFromFakeEngine(t *testing.T) {
	start := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	fakeClock(t, start)
	c, ep := startFake(t, &fakeEngine{apiVersion: "1.41", version: desktopVersion, info: desktopInfo, networks: desktopNetworks})
	got, errs := Facts(context.Background(), c, ep)
	if len(errs) != 0 {
		t.Fatalf("Facts() errors = %v", errs)
	}
	want := &probev1.Engine{
		Name:            "docker-desktop",
		ServerVersion:   "20.10.17",
		ApiVersion:      "1.41",
		MinApiVersion:   "1.12",
		Os:              "Docker Desktop",
		OsType:          "linux",
		Architecture:    "x86_64",
		KernelVersion:   "5.10.124-linuxkit",
		DockerRootDir:   "/var/lib/docker",
		Host:            strings.Replace(ep.Host, "admin:s3cret@", "", 1),
		Context:         "fake",
		Id:              "3X4M:PL3",
		CgroupDriver:    "cgroupfs",
		DefaultRuntime:  "runc",
		SecurityOptions: []string{"name=seccomp,profile=default", "name=cgroupns"},
		HttpProxy:       "http://user:pw@proxy.corp:3128",
		HttpsProxy:      "http://proxy.corp:3128",
		NoProxy:         "localhost,host.docker.internal",
		Clock: &probev1.ClockReading{Raw: "2026-12-01T04:00:07.5Z",
			Remote: timestamppb.New(time.Date(2026, 12, 1, 4, 0, 7, 500_000_000, time.UTC)),
			Asked:  timestamppb.New(start), Answered: timestamppb.New(start.Add(10 * time.Millisecond))},
		Networks: []*probev1.Network{
			{Name: "bridge", Id: "f62da0afc63d3c07", Driver: "bridge", Scope: "local", Bridge: "docker0",
				Subnets: []*probev1.Subnet{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.1"}},
				Options: map[string]string{"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": "docker0", "com.docker.network.driver.mtu": "1500"}},
			{Name: "host", Id: "c0f5f821358b", Driver: "host", Scope: "local", Options: map[string]string{}},
			{Name: "mynet", Id: "6b1a2f3c4d5e6f708192a3b4", Driver: "bridge", Scope: "local", Bridge: "br-6b1a2f3c4d5e",
				Internal: true, EnableIpv6: true, Options: map[string]string{},
				Subnets: []*probev1.Subnet{
					{Subnet: "172.18.0.0/16", Gateway: "172.18.0.1", IpRange: "172.18.5.0/24"},
					{Subnet: "fd00:1::/64", Gateway: "fd00:1::1"},
				}},
			{Name: "none", Id: "10b3eb0cb1bf", Driver: "null", Scope: "local", Options: map[string]string{}},
		},
	}
	if !proto.Equal(got, want) {
		t.Errorf("Facts() mismatch\n got: %s\nwant: %s", protojson.Format(got), protojson.Format(want))
	}
}

func TestFactsPartialFailure(t *testing.T) {
	tests := []struct {
		name        string
		engine      fakeEngine
		wantSection []string
		check       func(t *testing.T, e *probev1.Engine)
	}{
		{
			name:        "networks fail",
			engine:      fakeEngine{apiVersion: "1.41", version: desktopVersion, info: desktopInfo},
			wantSection: []string{SectionNetworks},
			check: func(t *testing.T, e *probev1.Engine) {
				if e.ServerVersion != "20.10.17" || e.Os != "Docker Desktop" || len(e.Networks) != 0 {
					t.Errorf("kept engine = %v", e)
				}
			},
		},
		{
			name:        "version and info fail",
			engine:      fakeEngine{apiVersion: "1.41", networks: desktopNetworks},
			wantSection: []string{SectionVersion, SectionInfo},
			check: func(t *testing.T, e *probev1.Engine) {
				if len(e.Networks) != 4 || e.ApiVersion != "1.41" || e.Context != "fake" {
					t.Errorf("kept engine = %v", e)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ep := startFake(t, &tt.engine)
			got, errs := Facts(context.Background(), c, ep)
			if got == nil {
				t.Fatal("Facts() returned a nil engine")
			}
			var sections []string
			for _, e := range errs {
				sections = append(sections, e.Section)
				if e.Code != "Internal" || !strings.Contains(e.Message, "boom") {
					t.Errorf("section error = %v, want code Internal and the daemon's message", e)
				}
			}
			if strings.Join(sections, ",") != strings.Join(tt.wantSection, ",") {
				t.Errorf("error sections = %v, want %v", sections, tt.wantSection)
			}
			tt.check(t, got)
		})
	}
}

// Engines up to 26.x report IPv6 gateways with a prefix length, which the
// client's typed decoding refuses (moby/moby#52991); Facts re-reads leniently.
func TestFactsLegacyGateway(t *testing.T) {
	legacy := `[{"Name":"v6","Id":"0123456789abcdef","Driver":"bridge","Scope":"local","EnableIPv6":true,
	  "IPAM":{"Config":[{"Subnet":"fd05:d0ca:2::/112","Gateway":"fd05:d0ca:2::1/112"}]},"Options":{}}]`
	f := &fakeEngine{apiVersion: "1.41", version: desktopVersion, info: desktopInfo, networks: legacy}
	c, ep := startFake(t, f)
	if _, err := c.NetworkList(context.Background(), client.NetworkListOptions{}); err == nil {
		t.Skip("the client now accepts prefixed gateways; the lenient path is no longer exercised")
	}
	got, errs := Facts(context.Background(), c, ep)
	if len(errs) != 0 {
		t.Fatalf("Facts() errors = %v", errs)
	}
	want := []*probev1.Network{{Name: "v6", Id: "0123456789abcdef", Driver: "bridge", Scope: "local", EnableIpv6: true,
		Bridge: "br-0123456789ab", Options: map[string]string{},
		Subnets: []*probev1.Subnet{{Subnet: "fd05:d0ca:2::/112", Gateway: "fd05:d0ca:2::1"}}}}
	if len(got.Networks) != 1 || !proto.Equal(got.Networks[0], want[0]) {
		t.Errorf("networks = %v, want %v", got.Networks, want)
	}
}

// fakeAPI is an in-memory API without a raw dialer.
type fakeAPI struct {
	version  client.ServerVersionResult
	info     client.SystemInfoResult
	networks client.NetworkListResult
	err      map[string]error
}

func (f fakeAPI) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return f.version, f.err["version"]
}
func (f fakeAPI) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return f.info, f.err["info"]
}
func (f fakeAPI) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return f.networks, f.err["networks"]
}
func (f fakeAPI) ClientVersion() string { return "1.44" }

func TestFactsErrorCodes(t *testing.T) {
	api := fakeAPI{
		version: client.ServerVersionResult{Version: "27.0.1"},
		err: map[string]error{
			"info":     context.DeadlineExceeded,
			"networks": errors.New("tcp://u:hunter2@h:2376 said no"),
		},
	}
	ep := endpoint.Endpoint{Context: "remote", Host: "tcp://u:hunter2@h:2376"}
	got, errs := Facts(context.Background(), api, ep)
	if got.ServerVersion != "27.0.1" || got.ApiVersion != "1.44" || got.Host != "tcp://h:2376" {
		t.Errorf("engine = %v", got)
	}
	wantCodes := map[string]string{SectionInfo: "DeadlineExceeded", SectionNetworks: "Unknown"}
	if len(errs) != len(wantCodes) {
		t.Fatalf("errors = %v", errs)
	}
	for _, e := range errs {
		if wantCodes[e.Section] != e.Code {
			t.Errorf("%s code = %q, want %q", e.Section, e.Code, wantCodes[e.Section])
		}
		if strings.Contains(e.Message, "hunter2") {
			t.Errorf("%s message leaks credentials: %q", e.Section, e.Message)
		}
	}
}

func TestBridgeName(t *testing.T) {
	tests := []struct {
		driver, id string
		options    map[string]string
		want       string
	}{
		{"bridge", "f62da0afc63d3c074c03452d5e355cde", map[string]string{BridgeNameOption: "docker0"}, "docker0"},
		{"bridge", "6b1a2f3c4d5e6f708192a3b4", nil, "br-6b1a2f3c4d5e"},
		{"bridge", "short", nil, "br-short"},
		{"bridge", "", nil, ""},
		{"host", "c0f5f821358b203e", nil, ""},
		{"null", "10b3eb0cb1bff7c7", map[string]string{}, ""},
		{"macvlan", "abc", map[string]string{BridgeNameOption: "custom0"}, "custom0"},
	}
	for _, tt := range tests {
		if got := BridgeName(tt.driver, tt.id, tt.options); got != tt.want {
			t.Errorf("BridgeName(%q, %q, %v) = %q, want %q", tt.driver, tt.id, tt.options, got, tt.want)
		}
	}
}

func TestGOARCH(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"x86_64", "amd64", true},
		{"amd64", "amd64", true},
		{"aarch64", "arm64", true},
		{"arm64", "arm64", true},
		{" AARCH64 ", "arm64", true},
		{"armv7l", "arm", true},
		{"s390x", "s390x", true},
		{"mips", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := GOARCH(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("GOARCH(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
