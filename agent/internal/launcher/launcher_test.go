package launcher_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/launcher/launchertest"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// TestFakeConformance runs the suite against the fake runtime: the suite's
// own check, and launcher.Probe's on a runtime without an engine.
func TestFakeConformance(t *testing.T) {
	f := launchertest.NewFake()
	launchertest.Run(t, launchertest.Harness{
		New:       func(*testing.T) launcher.Launcher { return f },
		Exists:    func(_ *testing.T, name string) bool { return f.Exists(name) },
		Exclusive: true,
	})
}

// failing is a runtime whose Start fails: the run still reports the facts.
type failing struct{ *launchertest.Fake }

var errRefused = errors.New("refused")

func (failing) Start(context.Context, launcher.Options) (launcher.Session, error) {
	return nil, errRefused
}

func TestProbeFailedStartKeepsTheFacts(t *testing.T) {
	res, err := launcher.Probe(t.Context(), failing{launchertest.NewFake()}, launcher.ProbeOptions{Options: launcher.Options{Version: "dev"}})
	if !errors.Is(err, errRefused) {
		t.Fatalf("err = %v, want the Start's", err)
	}
	rep := res.Report
	if rep.GetEngine().GetServerVersion() != "1.0" {
		t.Errorf("engine %v: want the facts although the probe did not run", rep.GetEngine())
	}
	if n := len(rep.GetErrors()); n != 1 || rep.GetErrors()[0].GetSection() != "probe" || rep.GetErrors()[0].GetMessage() != "refused" {
		t.Errorf("errors %v: want one probe error", rep.GetErrors())
	}
	if res.HangUp != nil {
		t.Error("HangUp after a failed run")
	}
}

func TestFactsKeepWhatAnswered(t *testing.T) {
	broken := errors.New("broken")
	e, errs := launcher.Facts(t.Context(), &probev1.Engine{Host: "h", DefaultRuntime: "runc"}, launcher.Sources{
		Version: func(context.Context) (launcher.Version, error) {
			return launcher.Version{Version: "29.0", Os: "linux", Arch: "amd64"}, nil
		},
		Info: func(context.Context) (launcher.Info, error) {
			return launcher.Info{Name: "vm", Architecture: "x86_64", KernelVersion: "6.6"}, nil
		},
		Networks: func(context.Context) ([]*probev1.Network, error) { return nil, broken },
		Failed: func(section, what string, err error) *probev1.SectionError {
			return &probev1.SectionError{Section: section, Message: what + ": " + err.Error()}
		},
	})
	if e.GetHost() != "h" || e.GetServerVersion() != "29.0" || e.GetName() != "vm" || e.GetKernelVersion() != "6.6" {
		t.Errorf("engine %v: want the base, the version and the info", e)
	}
	// Info's architecture (uname -m) wins over the version's GOARCH; a
	// default the info does not give stays.
	if e.GetArchitecture() != "x86_64" || e.GetOsType() != "linux" || e.GetDefaultRuntime() != "runc" {
		t.Errorf("architecture %q, os type %q, default runtime %q", e.GetArchitecture(), e.GetOsType(), e.GetDefaultRuntime())
	}
	if len(errs) != 1 || errs[0].GetSection() != launcher.SectionNetworks || errs[0].GetMessage() != "list the engine's networks: broken" {
		t.Errorf("errors %v: want the networks' only", errs)
	}

	e, errs = launcher.Facts(t.Context(), nil, launcher.Sources{
		Version:  func(context.Context) (launcher.Version, error) { return launcher.Version{}, broken },
		Info:     func(context.Context) (launcher.Info, error) { return launcher.Info{ServerVersion: "1.7"}, nil },
		Networks: func(context.Context) ([]*probev1.Network, error) { return []*probev1.Network{{Name: "bridge"}}, nil },
		Failed: func(section, _ string, err error) *probev1.SectionError {
			return &probev1.SectionError{Section: section, Message: err.Error()}
		},
	})
	if e.GetServerVersion() != "1.7" || len(e.GetNetworks()) != 1 || len(errs) != 1 || errs[0].GetSection() != launcher.SectionVersion {
		t.Errorf("without the version: engine %v, errors %v; want info's server version and the networks", e, errs)
	}
}

func TestProbeFillsHostGatewayFromTheProbesEtcHosts(t *testing.T) {
	res, err := launcher.Probe(t.Context(), launchertest.NewFake(), launcher.ProbeOptions{Options: launcher.Options{Version: "dev"}})
	if err != nil {
		t.Fatal(err)
	}
	if ip := res.Report.GetEngine().GetHostGatewayIp(); ip != launchertest.FakeHostGateway {
		t.Errorf("host-gateway %q, want the probe's /etc/hosts entry %s", ip, launchertest.FakeHostGateway)
	}
	if res.Report.GetTool().GetProbeImage() != "fake/probe:dev" || res.Report.GetTool().GetProbeVersion() != "dev" {
		t.Errorf("tool %v", res.Report.GetTool())
	}
}
