package collect

import (
	"context"
	"strings"
	"testing"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// The fixture's VM runs two dockerd: 143 serves the engine (its containerd
// started the probe; data-root /var/lib/docker) and 900 is a CI engine
// (data-root /var/lib/docker-ci).
func prefetchFixture(t *testing.T) (*Prefetched, Options) {
	t.Helper()
	proc, selfRoot := fixture(t)
	base := Options{Proc: proc, SelfRoot: selfRoot, SelfPID: 905}
	pre := base
	pre.DockerAPI = true
	return Prefetch(context.Background(), pre), base
}

func TestPrefetchServesTheSameTarget(t *testing.T) {
	p, opts := prefetchFixture(t)
	opts.Hint = &probev1.TargetHint{DockerRootDir: "/var/lib/docker"}
	rep, ok := p.Take(context.Background(), opts)
	if !ok {
		t.Fatal("the prefetch was not used, though the hint chooses the dockerd it chose")
	}
	checkComplete(t, rep)
	// The report is the one a collection with the hint gives: the target
	// and its method name the data-root match, not the prefetch's
	// containerd-address match.
	want := Collect(context.Background(), opts)
	if got, w := rep.GetTarget(), want.GetTarget(); got.GetPid() != w.GetPid() || got.GetMethod() != w.GetMethod() || got.GetReason() != w.GetReason() {
		t.Errorf("target = %v\nwant      %v", got, w)
	}
	if rep.GetTarget().GetMethod() != "data-root" || rep.GetDaemon().GetPid() != 143 {
		t.Errorf("target %v, daemon pid %d; want data-root, 143", rep.GetTarget(), rep.GetDaemon().GetPid())
	}
	if len(rep.GetMounts()) != len(want.GetMounts()) || len(rep.GetProcesses()) != len(want.GetProcesses()) {
		t.Errorf("mounts %d processes %d; a fresh collection has %d and %d", len(rep.GetMounts()), len(rep.GetProcesses()), len(want.GetMounts()), len(want.GetProcesses()))
	}
	// It answers once: a second request is collected afresh.
	if _, ok := p.Take(context.Background(), opts); ok {
		t.Error("the prefetch served a second request")
	}
}

func TestPrefetchRefusesAnotherTarget(t *testing.T) {
	for name, change := range map[string]func(*Options){
		"data-root of the other dockerd": func(o *Options) { o.Hint = &probev1.TargetHint{DockerRootDir: "/var/lib/docker-ci"} },
		"an explicit target pid":         func(o *Options) { o.TargetPID = 900 },
	} {
		t.Run(name, func(t *testing.T) {
			p, opts := prefetchFixture(t)
			change(&opts)
			if rep, ok := p.Take(context.Background(), opts); ok {
				t.Fatalf("the prefetch (target 143) served a request for another target: %v", rep.GetTarget())
			}
			if got := Collect(context.Background(), opts).GetTarget().GetPid(); got != 900 {
				t.Errorf("a fresh collection chose %d, want 900", got)
			}
		})
	}
}

func TestPrefetchNotStartedOrCanceled(t *testing.T) {
	var none *Prefetched
	if _, ok := none.Take(context.Background(), Options{}); ok {
		t.Error("a nil prefetch served a request")
	}
	p, opts := prefetchFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either the prefetch had finished (and may serve) or the request's
	// context ends the wait: never a hang, never a report for another
	// target.
	if rep, ok := p.Take(ctx, opts); ok && !strings.Contains(rep.GetTarget().GetReason(), "143") {
		t.Errorf("served %v", rep.GetTarget())
	}
}
