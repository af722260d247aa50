package launch

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
)

// fakeAPI fails the step named in failAt and records removals.
type fakeAPI struct {
	failAt  string
	failErr error
	created client.ContainerCreateOptions
	removed []string
}

func (f *fakeAPI) fail(step string) error {
	if f.failAt == step {
		return f.failErr
	}
	return nil
}

func (f *fakeAPI) ImageInspect(context.Context, string, ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, nil
}
func (f *fakeAPI) ImageLoad(context.Context, io.Reader, ...client.ImageLoadOption) (client.ImageLoadResult, error) {
	return nil, nil
}
func (f *fakeAPI) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.created = o
	return client.ContainerCreateResult{ID: "id1"}, f.fail("create")
}
func (f *fakeAPI) ContainerAttach(context.Context, string, client.ContainerAttachOptions) (client.ContainerAttachResult, error) {
	return client.ContainerAttachResult{}, f.fail("attach")
}
func (f *fakeAPI) ContainerStart(context.Context, string, client.ContainerStartOptions) (client.ContainerStartResult, error) {
	return client.ContainerStartResult{}, f.fail("start")
}
func (f *fakeAPI) ContainerRemove(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.removed = append(f.removed, id)
	return client.ContainerRemoveResult{}, nil
}

const eci = "failed to create shim task: OCI runtime create failed: sysbox containers can't share namespaces [pid] with the host (because they use the linux user-namespace for isolation): unknown"

func TestLaunchFailuresRemoveAndClassify(t *testing.T) {
	tests := []struct {
		failAt  string
		msg     string
		want    error
		removed []string
	}{
		{"create", "no space", ErrCreate, []string{"dockprobe-probe-test"}},
		{"create", eci, ErrIsolation, []string{"dockprobe-probe-test"}},
		{"attach", "broken", ErrAttach, []string{"id1"}},
	}
	// A refused start needs a real hijacked stream; the e2e suite covers
	// it (TestReliabilityFailureClasses).
	for _, tt := range tests {
		api := &fakeAPI{failAt: tt.failAt, failErr: errors.New(tt.msg)}
		var handed []string
		_, err := Launch(t.Context(), api, Options{
			Options: launcher.Options{Name: "dockprobe-probe-test", Deadline: time.Minute},
			Image:   &probeimage.Image{Ref: "dockprobe/probe:test"},
			Remove:  func(id string) { handed = append(handed, id) },
		})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s %q: err = %v, want %v", tt.failAt, tt.msg, err, tt.want)
		}
		if !slices.Equal(handed, tt.removed) {
			t.Errorf("%s: removal handed over for %v, want %v", tt.failAt, handed, tt.removed)
		}
		if len(api.removed) != 0 {
			t.Errorf("%s: removed synchronously %v although Remove was given", tt.failAt, api.removed)
		}
	}
}

func TestContainerConfigLabelsAndPrivileges(t *testing.T) {
	before := time.Now()
	cfg, hc := ContainerConfig(Options{Image: &probeimage.Image{Ref: "x"}, Options: launcher.Options{Deadline: 65 * time.Second}})
	if !slices.Equal(hc.CapDrop, []string{"ALL"}) || !slices.Equal(hc.CapAdd, Capabilities) || hc.Privileged {
		t.Errorf("caps: drop %v add %v privileged %v", hc.CapDrop, hc.CapAdd, hc.Privileged)
	}
	if !hc.ReadonlyRootfs || !hc.AutoRemove || hc.NetworkMode != "none" || hc.PidMode != "host" ||
		!slices.Equal(hc.SecurityOpt, []string{"no-new-privileges", "apparmor=unconfined"}) || len(hc.Binds) != 0 || len(hc.Mounts) != 0 {
		t.Errorf("host config %+v", hc)
	}
	d, err := strconv.ParseInt(cfg.Labels[LabelDeadline], 10, 64)
	if err != nil || time.Unix(d, 0).Before(before.Add(65*time.Second+Backstop-time.Second)) {
		t.Errorf("deadline label %q, want now+deadline+backstop", cfg.Labels[LabelDeadline])
	}
	if cfg.Labels[LabelAgentPID] == "" || cfg.Labels[LabelProbe] != "true" {
		t.Errorf("labels %v", cfg.Labels)
	}
}

func TestContainerConfigCommand(t *testing.T) {
	im := &probeimage.Image{Ref: "x"}
	for _, tc := range []struct {
		o    Options
		want []string
	}{
		{Options{Image: im, Options: launcher.Options{Deadline: time.Minute}}, []string{"--deadline", "1m0s"}},
		{Options{Image: im, Options: launcher.Options{Deadline: time.Minute, Debug: true, Prefetch: true}}, []string{"--deadline", "1m0s", "--debug", "--prefetch"}},
		// The prefetch collects for the pid the request will name.
		{Options{Image: im, Options: launcher.Options{Deadline: time.Minute, Prefetch: true, TargetPID: 42}}, []string{"--deadline", "1m0s", "--prefetch", "--target-pid", "42"}},
		{Options{Image: im, Options: launcher.Options{Deadline: time.Minute, TargetPID: 42}}, []string{"--deadline", "1m0s"}},
	} {
		cfg, _ := ContainerConfig(tc.o)
		if !slices.Equal(cfg.Cmd, tc.want) {
			t.Errorf("%+v: cmd %q, want %q", tc.o, cfg.Cmd, tc.want)
		}
	}
}

// Discard (the early create turned out wrong) removes the container now and
// itself, not through the watchdog's one-shot Remove: the name must be
// free for the create that follows.
func TestCreateDiscard(t *testing.T) {
	api := &fakeAPI{}
	handed := 0
	s, err := Create(t.Context(), api, Options{Image: &probeimage.Image{Ref: "x"},
		Options: launcher.Options{Name: "dockprobe-probe-d", Deadline: time.Minute}, Remove: func(string) { handed++ }})
	if err != nil {
		t.Fatal(err)
	}
	s.Discard()
	if !slices.Equal(api.removed, []string{s.ID}) || handed != 0 {
		t.Errorf("removed %v synchronously and handed %d to Remove; want %v and 0", api.removed, handed, []string{s.ID})
	}
}
