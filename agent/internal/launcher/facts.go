package launcher

import (
	"context"
	"sync"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Sections of the report that Facts fills; a failing one is reported under
// its name in Report.errors, whatever the runtime.
const (
	SectionVersion  = "engine.version"
	SectionInfo     = "engine.info"
	SectionNetworks = "engine.networks"
)

// Version is what an engine says of its version.
type Version struct {
	Version, MinAPIVersion string
	// Os and Arch as the version endpoint says them; Info's win.
	Os, Arch string
}

// Info is the part of an engine's info the report keeps.
type Info struct {
	ID              string
	Name            string
	ServerVersion   string
	OperatingSystem string
	OSType          string
	Architecture    string
	KernelVersion   string
	DockerRootDir   string
	CgroupDriver    string
	DefaultRuntime  string
	SecurityOptions []string
	// The proxies the engine uses for pulls (its environment).
	HTTPProxy  string `json:"HttpProxy"`
	HTTPSProxy string `json:"HttpsProxy"`
	NoProxy    string
	// Clock is the engine's clock read beside the query; nil when the
	// runtime cannot tell.
	Clock *probev1.ClockReading `json:"-"`
}

// Sources are one runtime's queries for Facts; each may fail on its own.
type Sources struct {
	Version  func(context.Context) (Version, error)
	Info     func(context.Context) (Info, error)
	Networks func(context.Context) ([]*probev1.Network, error)
	// Failed turns a failed query into the section's error (the runtime
	// knows its error classes and what to redact).
	Failed func(section, what string, err error) *probev1.SectionError
}

// Facts runs the queries in parallel and shapes their answers into base
// (which carries what the runtime knows without asking: host, context,
// defaults). One failing query never loses the others' fields.
func Facts(ctx context.Context, base *probev1.Engine, src Sources) (*probev1.Engine, []*probev1.SectionError) {
	var (
		wg                    sync.WaitGroup
		ver                   Version
		info                  Info
		nets                  []*probev1.Network
		verErr, infoErr, nErr error
	)
	wg.Go(func() { ver, verErr = src.Version(ctx) })
	wg.Go(func() { info, infoErr = src.Info(ctx) })
	wg.Go(func() { nets, nErr = src.Networks(ctx) })
	wg.Wait()

	e := base
	if e == nil {
		e = &probev1.Engine{}
	}
	e.Networks = nets
	var errs []*probev1.SectionError
	if verErr != nil {
		errs = append(errs, src.Failed(SectionVersion, "read the engine version", verErr))
	} else {
		e.ServerVersion = ver.Version
		e.MinApiVersion = ver.MinAPIVersion
		e.OsType = ver.Os
		e.Architecture = ver.Arch
	}
	if infoErr != nil {
		errs = append(errs, src.Failed(SectionInfo, "read the engine info", infoErr))
	} else {
		e.Name = info.Name
		e.Id = info.ID
		e.Os = info.OperatingSystem
		e.KernelVersion = info.KernelVersion
		e.DockerRootDir = info.DockerRootDir
		e.CgroupDriver = info.CgroupDriver
		e.SecurityOptions = info.SecurityOptions
		e.HttpProxy, e.HttpsProxy, e.NoProxy = info.HTTPProxy, info.HTTPSProxy, info.NoProxy
		e.Clock = info.Clock
		if info.DefaultRuntime != "" {
			e.DefaultRuntime = info.DefaultRuntime
		}
		// Info reports uname -m, which is what people expect to read.
		if info.Architecture != "" {
			e.Architecture = info.Architecture
		}
		if info.OSType != "" {
			e.OsType = info.OSType
		}
		if e.ServerVersion == "" {
			e.ServerVersion = info.ServerVersion
		}
	}
	if nErr != nil {
		errs = append(errs, src.Failed(SectionNetworks, "list the engine's networks", nErr))
	}
	return e, errs
}
