// Package reaper guarantees that a probe container is removed even when the
// agent that created it is killed (SIGKILL, a closed terminal, a crash).
// The agent starts a detached copy of itself in a hidden mode before it
// creates the container and keeps the write end of a pipe to it; the
// watchdog removes the container by name when the agent says so, when the
// pipe reaches EOF without a word (the agent died), or at a hard deadline.
// It also sweeps stale probes that earlier runs left behind. It works the
// same on Windows: a process and a pipe, no fork.
//
// It does not create containers or talk to the probe.
package reaper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Messages on the pipe, one byte each.
const (
	// MsgDone: the run succeeded: the create returned, the probe ran and
	// the agent hung up; the probe exits and the engine removes it
	// (AutoRemove). The watchdog checks, and forces if not.
	MsgDone = 'd'
	// MsgRemove: remove the container now, whatever its state. A create
	// may still be in flight (the agent was interrupted while waiting
	// for it), so the watchdog keeps looking for the name for Settle.
	MsgRemove = 'r'
	// MsgNone: the agent never asked the engine to create the container
	// (it failed before, e.g. the engine did not answer); the watchdog
	// exits at once without touching the engine.
	MsgNone = 'n'
)

// Command is the hidden subcommand that runs the watchdog.
const Command = "__reap"

// Guard is the agent's end of a running watchdog.
type Guard struct {
	w    *os.File
	sent bool
}

// Spawn starts the watchdog: the running executable with args (which must
// select the hidden Command and name the container). The child gets the
// read end of a pipe as stdin and nothing else; it runs in its own session
// (process group on Windows) so that signals aimed at the agent's terminal
// do not reach it.
func Spawn(args []string) (*Guard, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the cleanup watchdog: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the cleanup watchdog: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin = r
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start the cleanup watchdog: %w", err)
	}
	lowerPriority(cmd.Process.Pid)
	r.Close()
	// Not waited for: the agent usually exits first and the watchdog's
	// parent becomes init (or nobody, on Windows).
	cmd.Process.Release()
	return &Guard{w: w}, nil
}

func (g *Guard) send(msg byte) {
	if g == nil || g.sent {
		return
	}
	g.sent = true
	g.w.Write([]byte{msg})
	g.w.Close()
}

// Done tells the watchdog the run ended normally; it verifies the removal
// without the agent waiting for it.
func (g *Guard) Done() { g.send(MsgDone) }

// Remove tells the watchdog to force-remove the container now; the agent
// does not wait for it.
func (g *Guard) Remove() { g.send(MsgRemove) }

// None tells the watchdog that no container was ever asked for: it exits
// without calling the engine.
func (g *Guard) None() { g.send(MsgNone) }

// API is what the watchdog needs of the engine; *client.Client has it.
type API interface {
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerRemove(ctx context.Context, id string, opts client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
}

// Options of one watchdog.
type Options struct {
	Name string
	// Deadline: act at the latest this long after start even if the agent
	// neither speaks nor dies (a hung agent).
	Deadline time.Duration
	// Grace: after MsgDone, how long the engine gets to remove the probe
	// by itself before the watchdog forces it.
	Grace time.Duration
	// Settle: after MsgRemove, EOF or the deadline, how long the watchdog
	// keeps removing the name. An agent that dies (or is interrupted)
	// while its create request is in flight leaves the engine to finish
	// that create after the watchdog's first look: "not found" then
	// proves nothing. The engine's create of an image it already has
	// takes well under a second; Settle covers a slow or busy engine.
	Settle time.Duration
	// Connect opens the engine lazily: a run that ends normally and whose
	// probe is already gone costs one inspect.
	Connect func(ctx context.Context) (API, error)
	Log     io.Writer
	// Woke, when set, is called once Run stops waiting for the agent
	// (a word, EOF, the deadline or ctx) with the word (0 for none):
	// work that must not compete with the agent's own use of the engine
	// starts then, unless the word is MsgNone.
	Woke func(msg byte)
}

// Run is the watchdog's body: wait for a word or EOF on in, then make sure
// the container is gone. It returns when the container is gone or the
// engine gave up answering (bounded by Deadline plus one minute).
func Run(ctx context.Context, in io.Reader, o Options) error {
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	msg := make(chan byte, 1)
	go func() {
		var b [1]byte
		n, _ := io.ReadFull(in, b[:])
		if n == 0 {
			msg <- 0 // EOF without a word: the agent died
			return
		}
		msg <- b[0]
	}()
	var m byte
	select {
	case m = <-msg:
	case <-time.After(o.Deadline):
		fmt.Fprintln(o.Log, "reaper: the agent is past its deadline")
	case <-ctx.Done():
	}
	if o.Woke != nil {
		o.Woke(m)
	}
	if m == MsgNone {
		return nil
	}
	// The settle window counts from the agent's last word (or death): no
	// request of the agent's can reach the engine later than that.
	settleUntil := time.Now().Add(o.Settle)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Grace+o.Settle+time.Minute)
	defer cancel()
	// The engine may be restarting (that may be why the agent failed):
	// keep trying until it answers or the minute is over.
	var api API
	for {
		var err error
		if api, err = o.Connect(ctx); err == nil {
			break
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return fmt.Errorf("reaper: engine unreachable, %s may be left behind: %w", o.Name, err)
		}
	}
	if m == MsgDone {
		// The create returned long ago: "not found" means gone for good.
		stop := time.Now().Add(o.Grace)
		for time.Now().Before(stop) {
			if _, err := api.ContainerInspect(ctx, o.Name, client.ContainerInspectOptions{}); cerrdefs.IsNotFound(err) {
				return nil
			}
			time.Sleep(200 * time.Millisecond)
		}
		return Remove(ctx, api, o.Name)
	}
	return settle(ctx, api, o.Name, settleUntil)
}

// DefaultSettle is Options.Settle's default.
const DefaultSettle = 8 * time.Second

// settle removes name now and then whenever it appears again, until the
// window closes: a create that was in flight when the agent stopped may
// complete at any moment in it (and the agent's slow path may have sent a
// second create after discarding an early one, under the same name).
// Looking costs one inspect; most runs find nothing after the first.
func settle(ctx context.Context, api API, name string, until time.Time) error {
	if err := Remove(ctx, api, name); err != nil {
		return err
	}
	for poll := 50 * time.Millisecond; time.Now().Before(until); {
		if !sleep(ctx, poll) {
			return ctx.Err()
		}
		// Often at first (a create is usually answered within
		// milliseconds), then less often.
		poll = min(poll*2, 500*time.Millisecond)
		_, err := api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err := Remove(ctx, api, name); err != nil {
			return err
		}
	}
	return nil
}

// Remove force-removes a container; "not found" and "removal already in
// progress" count as success.
func Remove(ctx context.Context, api API, idOrName string) error {
	for attempt := 0; ; attempt++ {
		_, err := api.ContainerRemove(ctx, idOrName, client.ContainerRemoveOptions{Force: true})
		switch {
		case err == nil, cerrdefs.IsNotFound(err):
			return nil
		case cerrdefs.IsConflict(err) && attempt < 20:
			// Removal in progress (AutoRemove racing us): check again.
			time.Sleep(250 * time.Millisecond)
			continue
		case cerrdefs.IsConflict(err):
			return nil
		}
		// The engine restarting or overloaded: retry while ctx lasts.
		if !sleep(ctx, 500*time.Millisecond) {
			return fmt.Errorf("remove probe container %s: %w", idOrName, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// Labels the sweep reads (the launch package writes them).
type Labels struct {
	Probe, AgentPID, AgentHost, Deadline string
}

// Sweep removes probe containers that are stale: past their deadline
// label (plus slack), or created by an agent on this host whose process
// is gone and not running (a killed agent whose watchdog died too).
// Probes of live concurrent agents are left alone. It returns the names
// it removed.
func Sweep(ctx context.Context, api API, l Labels, self string, now time.Time, alive func(pid int) bool) ([]string, error) {
	list, err := api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", l.Probe+"=true"),
	})
	if err != nil {
		return nil, fmt.Errorf("list probe containers: %w", err)
	}
	host, _ := os.Hostname()
	var removed []string
	for _, c := range list.Items {
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0]
			if len(name) > 0 && name[0] == '/' {
				name = name[1:]
			}
		}
		if name == self {
			continue
		}
		if !Stale(c.Labels, string(c.State), l, host, now, alive) {
			continue
		}
		if err := Remove(ctx, api, c.ID); err == nil {
			removed = append(removed, name)
		}
	}
	return removed, nil
}

// slack is added to a probe's own deadline before the sweep takes it: the
// agent's and the engine's clocks may differ a little.
const slack = 30 * time.Second

// Stale decides whether a probe container may be removed by someone other
// than its agent.
func Stale(labels map[string]string, state string, l Labels, host string, now time.Time, alive func(int) bool) bool {
	if d, err := strconv.ParseInt(labels[l.Deadline], 10, 64); err == nil && now.After(time.Unix(d, 0).Add(slack)) {
		return true
	}
	if state == "running" || state == "restarting" || state == "removing" {
		// It ends at its own deadline; its watchdog may be at work.
		return false
	}
	pid, err := strconv.Atoi(labels[l.AgentPID])
	if err != nil || pid <= 0 || labels[l.AgentHost] != host || host == "" {
		return false
	}
	return !alive(pid)
}
