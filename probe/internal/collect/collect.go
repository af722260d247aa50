// Package collect runs the probe's collectors and assembles the Report: it
// chooses the target process, then gathers each section (target, daemon,
// interfaces, routes, mounts, processes, container) concurrently where that
// is cheap, times each one, and turns a section's failure, or panic, into a
// SectionError without losing the others.
//
// It is the only package that knows the whole report; the collectors it
// calls (hostfs, procs, daemon, netif, mounts, sysinfo) know one part each.
// It never reads a process's environ.
package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dockprobe/dockprobe/probe/internal/containerd"
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/mounts"
	"github.com/dockprobe/dockprobe/probe/internal/netif"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	"github.com/dockprobe/dockprobe/probe/internal/sysinfo"
	"github.com/dockprobe/dockprobe/probe/internal/vmstate"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Section names, as they appear in SectionError and SectionTiming, in
// report order.
const (
	SectionTarget     = "target"
	SectionDaemon     = "daemon"
	SectionInterfaces = "interfaces"
	SectionRoutes     = "routes"
	SectionMounts     = "mounts"
	SectionProcesses  = "processes"
	SectionContainer  = "container"
)

// Sections lists every section in report order.
var Sections = []string{SectionTarget, SectionDaemon, SectionInterfaces, SectionRoutes, SectionMounts, SectionProcesses, SectionContainer,
	SectionMountViews, SectionContainerLinks, SectionNames, SectionVMState, SectionKubelet}

// Options says where to look.
type Options struct {
	// Proc is the procfs to read; empty means "/proc".
	Proc string
	// Hint is what the agent knows of the engine (DockerRootDir), used to
	// pick the dockerd that serves it. May be nil.
	Hint *probev1.TargetHint
	// TargetPID, when positive, is the target instead of the chosen one.
	TargetPID int32
	// SelfRoot is where the probe's own /etc lives; empty means "/".
	SelfRoot string
	// SelfPID is the probe's own pid as Proc numbers it; 0 means
	// os.Getpid(), right for a probe started with --pid=host.
	SelfPID int
	// DockerAPI: the agent came through the Docker API though Hint has
	// no DockerRootDir yet (Prefetch).
	DockerAPI bool
}

// Collect gathers a Report. It always returns one: sections that fail, panic
// or do not finish before ctx is done are listed in Report.errors, and the
// others are kept. A section still running at the deadline is abandoned
// (its goroutine finishes in the background and its result is dropped).
func Collect(ctx context.Context, opts Options) *probev1.Report {
	rep, _ := collect(ctx, opts)
	return rep
}

// collect is Collect that also returns the collector, which remembers how
// the target was chosen (Prefetch compares it with a later request's).
func collect(ctx context.Context, opts Options) (*probev1.Report, *collector) {
	c := &collector{
		fsys:    hostfs.New(opts.Proc),
		opts:    opts,
		self:    opts.SelfPID,
		results: make(chan outcome, len(Sections)),
	}
	if c.self <= 0 {
		c.self = os.Getpid()
	}
	report := &probev1.Report{CollectedAt: timestamppb.Now()}

	go c.send(SectionContainer, 0, c.container)
	go c.phases()

	pending := slices.Clone(Sections)
	for len(pending) > 0 {
		select {
		case o := <-c.results:
			if i := slices.Index(pending, o.name); i >= 0 {
				pending = slices.Delete(pending, i, i+1)
				o.record(report)
			}
		case <-ctx.Done():
			for _, name := range pending {
				report.Errors = append(report.Errors, sectionError(name,
					fmt.Errorf("%s did not finish in time: %w", name, context.Cause(ctx))))
			}
			pending = nil
		}
	}
	order := func(name string) int { return slices.Index(Sections, name) }
	slices.SortStableFunc(report.Errors, func(a, b *probev1.SectionError) int { return order(a.Section) - order(b.Section) })
	slices.SortStableFunc(report.Timings, func(a, b *probev1.SectionTiming) int { return order(a.Section) - order(b.Section) })
	sanitizeUTF8(report.ProtoReflect())
	return report, c
}

type collector struct {
	fsys    *hostfs.FS
	opts    Options
	self    int
	results chan outcome
	// targetMounts reads the target's mount table once for both the
	// mounts and mountViews sections: at 10,000 mounts a second parse
	// costs as much as the rest of the collection. Set in phases.
	targetMounts func() ([]*probev1.Mount, error)
	// input and choice are how the target was chosen, set in phases
	// before any section that depends on them starts; chosen says they
	// were (a choice that panicked leaves it false).
	// table is the scan's whole process table (parentage), set in phases
	// before the sections start.
	table  procs.Table
	input  daemon.Input
	choice daemon.Choice
	chosen bool
}

// outcome is one finished section: apply fills its part of the report.
type outcome struct {
	name    string
	apply   func(*probev1.Report)
	err     error
	elapsed time.Duration
}

func (o outcome) record(r *probev1.Report) {
	if o.apply != nil {
		o.apply(r)
	}
	if o.err != nil {
		r.Errors = append(r.Errors, sectionError(o.name, o.err))
	}
	r.Timings = append(r.Timings, &probev1.SectionTiming{
		Section:      o.name,
		Milliseconds: float64(o.elapsed.Microseconds()) / 1000,
	})
}

// send runs one section and delivers its outcome. earlier is time already
// spent on the section in the shared first phase.
func (c *collector) send(name string, earlier time.Duration, fn func() (func(*probev1.Report), error)) {
	start := time.Now()
	var apply func(*probev1.Report)
	err := safe(func() (err error) {
		apply, err = fn()
		return err
	})
	c.results <- outcome{name: name, apply: apply, err: err, elapsed: earlier + time.Since(start)}
}

// safe runs fn, turning a panic into an error.
func safe(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}

// phases runs the process scan and the choice of target, which every
// section but container depends on, then starts those sections at once.
func (c *collector) phases() {
	// Phase 1: one pass over /proc, shared by processes, daemon and target.
	start := time.Now()
	var scanned []procs.Process
	scanErr := safe(func() (err error) {
		scanned, c.table, err = procs.ScanTable(c.fsys, procs.Interesting)
		return err
	})
	scanTime := time.Since(start)

	start = time.Now()
	var daemons []*probev1.Daemon
	inspectErr := safe(func() error {
		daemons = daemon.InspectAll(c.fsys, scanned)
		return nil
	})
	inspectTime := time.Since(start)

	start = time.Now()
	var choice daemon.Choice
	chooseErr := safe(func() error {
		c.input = containerd.WithDaemons(c.fsys, daemon.Input{
			Daemons:     daemons,
			Hint:        c.opts.Hint,
			DockerAPI:   c.opts.DockerAPI,
			TargetPID:   int(c.opts.TargetPID),
			ShimAddress: daemon.ParentShimAddress(c.fsys, c.self, scanned),
		}, c.self, scanned)
		choice = daemon.Choose(c.input)
		return nil
	})
	if chooseErr != nil {
		choice = daemon.Choice{PID: 1, Method: daemon.MethodPID1, Reason: "choosing the target failed, so pid 1 is the target"}
	} else {
		c.choice, c.chosen = choice, true
	}
	chooseTime := time.Since(start)

	// Phase 2: the sections, concurrently.
	pid := choice.PID
	c.targetMounts = sync.OnceValues(func() ([]*probev1.Mount, error) { return mounts.Read(c.fsys, pid) })
	go c.send(SectionTarget, chooseTime, func() (func(*probev1.Report), error) {
		t, err := sysinfo.Target(c.fsys, pid)
		t.Method, t.Reason = choice.Method, choice.Reason
		t.Ancestry = procs.Ancestry(c.fsys, pid)
		return func(r *probev1.Report) { r.Target = t }, errors.Join(chooseErr, err)
	})
	go c.send(SectionDaemon, inspectTime, func() (func(*probev1.Report), error) {
		d := choice.Daemon
		if d == nil {
			d = &probev1.Daemon{Found: false}
		}
		return func(r *probev1.Report) { r.Daemon = d }, inspectErr
	})
	go c.network(pid)
	go c.send(SectionMounts, 0, func() (func(*probev1.Report), error) {
		ms, err := c.targetMounts()
		return func(r *probev1.Report) { r.Mounts = ms }, err
	})
	go c.send(SectionProcesses, scanTime, func() (func(*probev1.Report), error) {
		ps, err := c.processes(scanned)
		return func(r *probev1.Report) { r.Processes = ps }, errors.Join(scanErr, err)
	})
	go c.send(SectionKubelet, 0, func() (func(*probev1.Report), error) {
		k, nets, err := c.kubelet(choice, scanned)
		return func(r *probev1.Report) { r.Kubelet, r.CniNetworks = k, nets }, err
	})
	c.extras(pid, scanned)
	go c.send(SectionVMState, 0, func() (func(*probev1.Report), error) {
		vs, err := vmstate.Collect(c.fsys, pid, dataRoot(choice))
		return func(r *probev1.Report) { r.VmState = vs }, err
	})
}

// network reads interfaces then routes over one netlink socket; a socket
// answers one dump at a time, so the two run in sequence.
func (c *collector) network(pid int) {
	var h *netif.Handle
	var openErr error
	c.send(SectionInterfaces, 0, func() (func(*probev1.Report), error) {
		if h, openErr = netif.Open(c.fsys, pid); openErr != nil {
			return nil, openErr
		}
		ifs, err := h.Interfaces()
		return func(r *probev1.Report) { r.Interfaces = ifs }, err
	})
	c.send(SectionRoutes, 0, func() (func(*probev1.Report), error) {
		if openErr != nil {
			return nil, openErr
		}
		if h == nil {
			return nil, errors.New("no netlink handle: opening it failed")
		}
		defer h.Close()
		routes, err := h.Routes()
		return func(r *probev1.Report) { r.Routes = routes }, err
	})
}

// processes adds namespaces to the scanned processes. A process that exits
// meanwhile keeps what the scan saw.
func (c *collector) processes(scanned []procs.Process) ([]*probev1.Process, error) {
	out := make([]*probev1.Process, 0, len(scanned))
	var firstErr error
	for _, p := range scanned {
		ns, err := c.fsys.NamespaceIDs(p.PID)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = fmt.Errorf("namespaces of pid %d: %w", p.PID, err)
		}
		out = append(out, &probev1.Process{
			Pid:        int32(p.PID),
			Ppid:       int32(p.PPID),
			Comm:       p.Comm,
			Argv:       p.Argv,
			Namespaces: ns,
		})
	}
	return out, firstErr
}

func (c *collector) container() (func(*probev1.Report), error) {
	pc, err := sysinfo.Container(c.opts.SelfRoot, c.fsys, c.self)
	return func(r *probev1.Report) { r.Container = pc }, err
}

// sectionError classifies err with a gRPC code name.
func sectionError(section string, err error) *probev1.SectionError {
	return &probev1.SectionError{Section: section, Message: err.Error(), Code: Code(err)}
}

// Code names the gRPC code that fits err: PermissionDenied for EPERM and
// EACCES, NotFound for ENOENT, Unimplemented off Linux, DeadlineExceeded
// and Canceled for the context's, Internal for the rest.
func Code(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "PermissionDenied"
	case errors.Is(err, fs.ErrNotExist):
		return "NotFound"
	case errors.Is(err, errors.ErrUnsupported):
		return "Unimplemented"
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "Canceled"
	}
	return "Internal"
}
