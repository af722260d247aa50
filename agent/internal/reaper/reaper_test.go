package reaper

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

type fakeAPI struct {
	mu       sync.Mutex
	present  map[string]bool
	removed  []string
	items    []container.Summary
	inspects int
}

func (f *fakeAPI) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inspects++
	if !f.present[id] {
		return client.ContainerInspectResult{}, cerrdefs.ErrNotFound
	}
	return client.ContainerInspectResult{}, nil
}

func (f *fakeAPI) ContainerRemove(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	delete(f.present, id)
	return client.ContainerRemoveResult{}, nil
}

func (f *fakeAPI) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.items}, nil
}

func run(t *testing.T, in io.Reader, api *fakeAPI, deadline time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	err := Run(t.Context(), in, Options{
		Name: "p", Deadline: deadline, Grace: 300 * time.Millisecond, Settle: 300 * time.Millisecond,
		Connect: func(context.Context) (API, error) { return api, nil },
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return time.Since(start)
}

func TestRunRemovesWhenTheAgentDies(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{"p": true}}
	run(t, strings.NewReader(""), api, time.Minute) // EOF, no word
	if len(api.removed) != 1 || api.removed[0] != "p" {
		t.Fatalf("removed %v; want one removal of p", api.removed)
	}
}

// The agent died (or was interrupted) with its create request in flight:
// the engine creates the container after the watchdog's first removal
// found nothing. The watchdog must still remove it (issue 11).
func TestRunRemovesACreateThatLandsAfterTheAgentDied(t *testing.T) {
	for _, word := range []string{"", string(rune(MsgRemove))} {
		api := &fakeAPI{present: map[string]bool{}}
		landed := make(chan struct{})
		go func() {
			defer close(landed)
			time.Sleep(120 * time.Millisecond)
			api.mu.Lock()
			api.present["p"] = true // the in-flight create completes
			api.mu.Unlock()
		}()
		run(t, strings.NewReader(word), api, time.Minute)
		<-landed
		api.mu.Lock()
		left, removed := api.present["p"], append([]string(nil), api.removed...)
		api.mu.Unlock()
		if left || len(removed) < 2 {
			t.Errorf("word %q: container left=%v, removals %v; want the late create removed", word, left, removed)
		}
	}
}

func TestRunRemovesOnRequest(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{"p": true}}
	d := run(t, strings.NewReader(string(rune(MsgRemove))), api, time.Minute)
	if len(api.removed) != 1 || d < 300*time.Millisecond {
		t.Fatalf("removed %v, returned after %s; want one removal and a settle window", api.removed, d)
	}
}

func TestRunAfterDoneLeavesAutoRemoveAlone(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{}}
	run(t, strings.NewReader(string(rune(MsgDone))), api, time.Minute)
	if len(api.removed) != 0 {
		t.Fatalf("removed %v, want nothing: the engine already removed it", api.removed)
	}
}

func TestRunAfterDoneForcesWhenStillThere(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{"p": true}}
	d := run(t, strings.NewReader(string(rune(MsgDone))), api, time.Minute)
	if len(api.removed) != 1 || d < 300*time.Millisecond {
		t.Fatalf("removed %v after %s; want a forced removal after the grace", api.removed, d)
	}
}

// An agent that never reached create (the engine did not answer) says
// so: the watchdog must not wait a minute for that engine.
func TestRunAfterNoneExitsWithoutTheEngine(t *testing.T) {
	var woke []byte
	err := Run(t.Context(), strings.NewReader(string(rune(MsgNone))), Options{
		Name: "p", Deadline: time.Minute,
		Connect: func(context.Context) (API, error) {
			t.Error("the watchdog connected to the engine after MsgNone")
			return nil, cerrdefs.ErrUnavailable
		},
		Woke: func(m byte) { woke = append(woke, m) },
	})
	if err != nil || string(woke) != string(rune(MsgNone)) {
		t.Fatalf("Run = %v, woke with %q; want nil and one MsgNone", err, woke)
	}
}

func TestRunActsAtItsDeadlineWhenTheAgentHangs(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{"p": true}}
	pr, pw := io.Pipe() // never written, never closed: a hung agent
	defer pw.Close()
	d := run(t, pr, api, 200*time.Millisecond)
	if len(api.removed) != 1 || d > 5*time.Second {
		t.Fatalf("removed %v after %s", api.removed, d)
	}
}

var labels = Labels{Probe: "probe", AgentPID: "pid", AgentHost: "host", Deadline: "deadline"}

func TestStale(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	future := "1000100"
	past := "999000"
	alive := func(pid int) bool { return pid == 42 }
	tests := []struct {
		name   string
		labels map[string]string
		state  string
		want   bool
	}{
		{"live agent, created", map[string]string{"pid": "42", "host": "h", "deadline": future}, "created", false},
		{"dead agent, created", map[string]string{"pid": "7", "host": "h", "deadline": future}, "created", true},
		{"dead agent, exited", map[string]string{"pid": "7", "host": "h", "deadline": future}, "exited", true},
		{"dead agent, dead", map[string]string{"pid": "7", "host": "h", "deadline": future}, "dead", true},
		{"dead agent, still running", map[string]string{"pid": "7", "host": "h", "deadline": future}, "running", false},
		{"other host", map[string]string{"pid": "7", "host": "other", "deadline": future}, "created", false},
		{"past deadline, live agent", map[string]string{"pid": "42", "host": "h", "deadline": past}, "running", true},
		{"no labels", map[string]string{}, "created", false},
		{"garbage labels", map[string]string{"pid": "x", "host": "h", "deadline": "y"}, "exited", false},
	}
	for _, tt := range tests {
		if got := Stale(tt.labels, tt.state, labels, "h", now, alive); got != tt.want {
			t.Errorf("%s: Stale = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSweepSkipsItsOwnAndLiveOnes(t *testing.T) {
	api := &fakeAPI{present: map[string]bool{}}
	host := hostnameForTest(t)
	mk := func(id, name, pid, state string) container.Summary {
		return container.Summary{ID: id, Names: []string{"/" + name}, State: container.ContainerState(state),
			Labels: map[string]string{"pid": pid, "host": host, "deadline": "9999999999"}}
	}
	api.items = []container.Summary{
		mk("1", "self", "7", "created"),
		mk("2", "orphan", "7", "created"),
		mk("3", "concurrent", "42", "created"),
	}
	got, err := Sweep(t.Context(), api, labels, "self", time.Now(), func(pid int) bool { return pid == 42 })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "orphan" || len(api.removed) != 1 || api.removed[0] != "2" {
		t.Fatalf("Sweep removed %v (ids %v), want only the orphan", got, api.removed)
	}
}
