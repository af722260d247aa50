package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/reaper"
)

// watchdog is one run's probe container name and the cleanup watchdog
// (agent/internal/reaper) that removes the container by that name if the
// agent dies. It is spawned as early as the run knows it will use Docker,
// so that it is ready by the time the container is created without the
// create waiting for it.
type watchdog struct {
	name     string
	deadline time.Duration
	c        chan *reaper.Guard
	guard    *reaper.Guard
	ready    bool
	spawned  time.Duration
	// created is set just before the engine is first asked to create the
	// container: from then on the watchdog must check the engine.
	created bool
	// ok is set once the run has its report: the create returned and the
	// probe is (or is about to be) hung up on, so AutoRemove does the rest.
	ok bool
}

// startWatchdog picks the container's name and spawns the watchdog in the
// background. Failing to spawn one is not fatal (the next run's sweep is
// the backstop); --debug says so.
func startWatchdog(g *globalOptions, timeout time.Duration, stderr io.Writer) *watchdog {
	w := &watchdog{name: launch.NewName(), deadline: probeDeadline(timeout), c: make(chan *reaper.Guard, 1)}
	go func() {
		t0 := time.Now()
		gd, err := reaper.Spawn(reapArgs(g, w.name, w.deadline))
		w.spawned = time.Since(t0)
		if err != nil && g.debug {
			fmt.Fprintln(stderr, "agent: no watchdog:", err)
		}
		w.c <- gd
	}()
	return w
}

// get waits for the spawn; nil means there is no watchdog.
func (w *watchdog) get() *reaper.Guard {
	if !w.ready {
		w.guard, w.ready = <-w.c, true
	}
	return w.guard
}

// finish tells the watchdog the run is over: "done" (check that
// AutoRemove did its job) after a successful run; "remove" after a failed
// or interrupted one that asked for a create, which may still be in flight
// at the engine (the watchdog then keeps removing the name for a while);
// "none" (exit at once) when no create was ever asked for. Only the first
// word counts, so a later finish is harmless.
func (w *watchdog) finish() {
	switch {
	case !w.created:
		w.get().None()
	case w.ok:
		w.get().Done()
	default:
		w.get().Remove()
	}
}
