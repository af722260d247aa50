package cli

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/reaper"
)

func init() { register(newReapCmd) }

// sweepLabels are the labels the sweep reads.
var sweepLabels = reaper.Labels{
	Probe: launch.LabelProbe, AgentPID: launch.LabelAgentPID,
	AgentHost: launch.LabelAgentHost, Deadline: launch.LabelDeadline,
}

// sweepOff reports whether DOCKPROBE_SWEEP=off asks runs not to remove
// what earlier runs left. Only tests that must prove each run cleans up
// after itself set it: with the sweep on, a later run hides an earlier
// run's leak.
func sweepOff() bool { return os.Getenv("DOCKPROBE_SWEEP") == "off" }

// newReapCmd is the hidden watchdog mode (see package reaper): `agent
// probe` starts it, people do not.
func newReapCmd(g *globalOptions) *cobra.Command {
	var (
		name     string
		deadline time.Duration
	)
	cmd := &cobra.Command{
		Use:    reaper.Command,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || deadline <= 0 {
				return fmt.Errorf("%w: %s needs --name and --deadline", ErrUsage, reaper.Command)
			}
			log := cmd.ErrOrStderr()
			// One engine connection, opened on first success (the engine
			// may be restarting: a failure is not remembered).
			var (
				mu  sync.Mutex
				api reaper.API
			)
			open := func() (reaper.API, error) {
				mu.Lock()
				defer mu.Unlock()
				if api != nil {
					return api, nil
				}
				ep, err := g.endpoint()
				if err != nil {
					return nil, err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := engine.New(ctx, ep)
				if err != nil {
					return nil, err
				}
				api = c
				return api, nil
			}
			connect := func(context.Context) (reaper.API, error) { return open() }
			// The sweep of earlier runs' leftovers, off the agent's path:
			// it starts once the agent has spoken (or died, or run out
			// of time), so that its list call does not compete with the
			// agent's create and start on a busy engine.
			swept := make(chan struct{})
			woke := make(chan byte, 1)
			go func() {
				defer close(swept)
				if <-woke == reaper.MsgNone || sweepOff() {
					return // the agent never reached the engine's create
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				api, err := open()
				if err != nil {
					return
				}
				if gone, _ := reaper.Sweep(ctx, api, sweepLabels, name, time.Now(), reaper.Alive); len(gone) > 0 {
					fmt.Fprintln(log, "reaper: removed stale probes", gone)
				}
			}()
			err := reaper.Run(context.Background(), os.Stdin, reaper.Options{
				Name: name, Deadline: deadline, Connect: connect, Log: log,
				Woke: func(msg byte) { woke <- msg },
			})
			<-swept
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the probe container to guard")
	cmd.Flags().DurationVar(&deadline, "deadline", 0, "remove it at the latest after this long")
	return cmd
}
