// Package launchertest is the conformance suite of launcher.Launcher: the
// same tests run against every runtime (a fake in memory, the real Docker
// engine, real nerdctl), as containerd's snapshotter testsuite does for
// snapshotters. A runtime that passes it works with every command. It also
// holds the fake runtime (Fake) for tests of launcher's callers. Not for
// production code.
package launchertest

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Harness plugs a runtime into the suite.
type Harness struct {
	// New opens a launcher on the runtime under test; the suite closes
	// it.
	New func(t *testing.T) launcher.Launcher
	// Exists reports whether the runtime still holds a probe container
	// of that name (running or not).
	Exists func(t *testing.T, name string) bool
	// Exclusive says the engine is the test's own: Cleanup and a Sweep
	// in the future (which remove every probe, anyone's) run only then.
	Exclusive bool
	// Version is the agent version the probes are started with.
	Version string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	if h.Version == "" {
		h.Version = "dev"
	}
	for _, tc := range []struct {
		name      string
		exclusive bool
		f         func(*testing.T, Harness, launcher.Launcher)
	}{
		{"Facts", false, testFacts},
		{"Probe", false, testProbe},
		{"KeepOpen", false, testKeepOpen},
		{"Watch", false, testWatch},
		{"AbortRemoves", false, testAbortRemoves},
		{"Cancelled", false, testCancelled},
		{"SweepSparesLive", false, testSweepSparesLive},
		{"SweepStale", true, testSweepStale},
		{"Cleanup", true, testCleanup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.exclusive && !h.Exclusive {
				t.Skip("removes every probe on the engine: only on an engine of the test's own (Harness.Exclusive)")
			}
			l := h.New(t)
			t.Cleanup(func() { l.Close() })
			tc.f(t, h, l)
		})
	}
}

var seq atomic.Int64

// name is a probe name no other run uses.
func name() string {
	return fmt.Sprintf("dockprobe-probe-suite%d%06d", time.Now().UnixNano()%1e6, seq.Add(1))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func options(h Harness, name string) launcher.Options {
	return launcher.Options{Name: name, Version: h.Version, Deadline: time.Minute}
}

// gone waits for the runtime to drop name.
func gone(t *testing.T, h Harness, name string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for h.Exists(t, name) {
		if time.Now().After(deadline) {
			t.Fatalf("probe %s still there after %s", name, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// started starts a probe under a fresh name and greets it.
func started(t *testing.T, h Harness, l launcher.Launcher) (string, context.Context, launcher.Session) {
	t.Helper()
	n := name()
	c := ctx(t)
	s, err := l.Start(c, options(h, n))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := s.Handshake(c); err != nil {
		s.Abort()
		t.Fatalf("Handshake: %v", err)
	}
	return n, c, s
}

func testFacts(t *testing.T, _ Harness, l launcher.Launcher) {
	if l.Runtime() == "" {
		t.Error("Runtime() is empty")
	}
	e, errs := l.Facts(ctx(t))
	if e == nil {
		t.Fatal("Facts returned a nil Engine")
	}
	for _, se := range errs {
		t.Errorf("section %s failed: %s", se.GetSection(), se.GetMessage())
	}
	if e.GetServerVersion() == "" || e.GetHost() == "" {
		t.Errorf("Facts: server version %q, host %q: want both", e.GetServerVersion(), e.GetHost())
	}
	if err := l.Ping(ctx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testProbe: one run gives the probe's report merged with the facts, the
// facts start when the probe starts, and nothing is left afterwards.
func testProbe(t *testing.T, h Harness, l launcher.Launcher) {
	n := name()
	var starting atomic.Int32
	o := options(h, n)
	o.Starting = func() { starting.Add(1) }
	res, err := launcher.Probe(ctx(t), l, launcher.ProbeOptions{Options: o})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	rep := res.Report
	if rep.GetEngine().GetServerVersion() == "" {
		t.Error("the report has no engine facts")
	}
	if rep.GetTool().GetProbeVersion() == "" || rep.GetTool().GetProbeImage() == "" {
		t.Errorf("tool %v: want the probe's version and image", rep.GetTool())
	}
	if rep.GetTarget().GetPid() == 0 {
		t.Error("the report has no target: not the probe's")
	}
	for _, e := range rep.GetErrors() {
		if e.GetSection() == "probe" || e.GetSection() == launcher.SectionVersion {
			t.Errorf("section error %s: %s", e.GetSection(), e.GetMessage())
		}
	}
	if starting.Load() != 1 {
		t.Errorf("Starting called %d times, want once", starting.Load())
	}
	if res.HangUp != nil {
		t.Error("HangUp set without KeepOpen")
	}
	gone(t, h, n, 30*time.Second)
}

func testKeepOpen(t *testing.T, h Harness, l launcher.Launcher) {
	n := name()
	res, err := launcher.Probe(ctx(t), l, launcher.ProbeOptions{Options: options(h, n), KeepOpen: true})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.HangUp == nil {
		t.Fatal("no HangUp with KeepOpen")
	}
	res.HangUp()
	gone(t, h, n, 30*time.Second)
}

func testWatch(t *testing.T, h Harness, l launcher.Launcher) {
	n, c, s := started(t, h, l)
	defer func() {
		s.Abort()
		gone(t, h, n, 30*time.Second)
	}()
	wc, cancel := context.WithCancel(c)
	defer cancel()
	stream, err := s.Watch(wc, &probev1.WatchRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	e, err := stream.Recv()
	if err != nil {
		t.Fatalf("first event: %v", err)
	}
	if e.GetKind() != "ready" {
		t.Errorf("first event %q, want ready", e.GetKind())
	}
}

func testAbortRemoves(t *testing.T, h Harness, l launcher.Launcher) {
	n, _, s := started(t, h, l)
	if !h.Exists(t, n) {
		t.Fatalf("a started probe %s is not on the runtime", n)
	}
	s.Abort()
	gone(t, h, n, 30*time.Second)
}

// testCancelled: a run cancelled before it starts leaves nothing.
func testCancelled(t *testing.T, h Harness, l launcher.Launcher) {
	n := name()
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	s, err := l.Start(c, options(h, n))
	if err == nil {
		s.Abort()
		t.Fatal("Start with a cancelled context succeeded")
	}
	gone(t, h, n, 30*time.Second)
}

func testSweepSparesLive(t *testing.T, h Harness, l launcher.Launcher) {
	n, c, s := started(t, h, l)
	defer s.Abort()
	removed, err := l.Sweep(c, time.Now())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if slices.Contains(removed, n) || !h.Exists(t, n) {
		t.Errorf("Sweep removed the live probe %s (removed %v)", n, removed)
	}
}

func testSweepStale(t *testing.T, h Harness, l launcher.Launcher) {
	n, c, s := started(t, h, l)
	defer s.Abort()
	// An hour on, the probe is past its deadline: debris.
	removed, err := l.Sweep(c, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if !slices.Contains(removed, n) {
		t.Errorf("Sweep an hour later removed %v, not %s", removed, n)
	}
	gone(t, h, n, 30*time.Second)
}

func testCleanup(t *testing.T, h Harness, l launcher.Launcher) {
	n, c, s := started(t, h, l)
	defer s.Abort()
	removed, err := l.Cleanup(c, func(name string, err error) { t.Errorf("remove %s: %v", name, err) })
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if !slices.Contains(removed, n) {
		t.Errorf("Cleanup removed %v, not %s", removed, n)
	}
	gone(t, h, n, 30*time.Second)
}
