package daemon

import (
	"slices"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
)

// TestInspect reads daemon.json through hostfs.ReadInRoot, which is
// Linux-only.
func TestInspect(t *testing.T) {
	fsys := hostfs.New("testdata/proc")
	all := []procs.Process{
		{PID: 131, PPID: 1, Comm: "containerd", Argv: []string{"/usr/local/bin/containerd"}},
		{PID: 143, PPID: 1, Comm: "dockerd", Argv: readArgv(t, "desktop")},
		{PID: 900, PPID: 1, Comm: "dockerd", Argv: readArgv(t, "ci-second")},
		{PID: 910, PPID: 900, Comm: "containerd", Argv: []string{"containerd", "--config", "/run/docker-ci/containerd/containerd.toml"}},
	}

	t.Run("docker desktop", func(t *testing.T) {
		d := Inspect(fsys, all[1], all)
		if !d.GetFound() || d.GetPid() != 143 || len(d.GetFlags()) != 4 {
			t.Errorf("Inspect = found %v pid %d flags %d", d.GetFound(), d.GetPid(), len(d.GetFlags()))
		}
		if d.GetConfigFile() != DefaultConfigFile || d.GetConfigFileSource() != SourceDefault || !d.GetConfigFileExists() {
			t.Errorf("config file = %q (%s) exists %v", d.GetConfigFile(), d.GetConfigFileSource(), d.GetConfigFileExists())
		}
		if d.GetConfig().GetStructValue().GetFields()["experimental"] == nil || d.GetConfigError() != "" || d.GetConfigRaw() != "" {
			t.Errorf("config = %v, error %q, raw %q", d.GetConfig(), d.GetConfigError(), d.GetConfigRaw())
		}
		if d.GetDataRoot() != "/var/lib/docker" || d.GetExecRoot() != "/var/run/docker" || d.GetPidfile() != "/run/desktop/docker.pid" ||
			d.GetContainerdAddress() != "/var/run/desktop-containerd/containerd.sock" {
			t.Errorf("settings = %v %v %v %v", d.GetDataRoot(), d.GetExecRoot(), d.GetPidfile(), d.GetContainerdAddress())
		}
	})

	t.Run("second engine with a broken config", func(t *testing.T) {
		d := Inspect(fsys, all[2], all)
		if d.GetConfigFile() != "/etc/docker/ci.json" || d.GetConfigFileSource() != SourceFlag || !d.GetConfigFileExists() {
			t.Errorf("config file = %q (%s) exists %v", d.GetConfigFile(), d.GetConfigFileSource(), d.GetConfigFileExists())
		}
		if d.GetConfig() != nil || !strings.Contains(d.GetConfigRaw(), "insecure-registries") ||
			!strings.Contains(d.GetConfigError(), "/etc/docker/ci.json: invalid JSON: line 4, column 1") {
			t.Errorf("config = %v, error %q, raw %q", d.GetConfig(), d.GetConfigError(), d.GetConfigRaw())
		}
		// No --containerd: the containerd it supervises, under exec-root.
		if d.GetContainerdAddress() != "/run/docker-ci/containerd/containerd.sock" || d.GetDataRoot() != "/var/lib/docker-ci" {
			t.Errorf("containerd = %q, data-root %q", d.GetContainerdAddress(), d.GetDataRoot())
		}
	})

	t.Run("missing config given by flag", func(t *testing.T) {
		p := procs.Process{PID: 143, Comm: "dockerd", Argv: []string{"dockerd", "--config-file", "/etc/docker/gone.json"}}
		d := Inspect(fsys, p, nil)
		if d.GetConfigFileExists() || !strings.Contains(d.GetConfigError(), "does not exist") {
			t.Errorf("exists %v, error %q", d.GetConfigFileExists(), d.GetConfigError())
		}
		if d.GetContainerdAddress() != SystemContainerd {
			t.Errorf("containerd = %q, want the system one", d.GetContainerdAddress())
		}
	})

	t.Run("relative config path is not read", func(t *testing.T) {
		p := procs.Process{PID: 143, Comm: "dockerd", Argv: []string{"dockerd", "--config-file=daemon.json"}}
		d := Inspect(fsys, p, nil)
		if d.GetConfigFileExists() || !strings.Contains(d.GetConfigError(), "relative") {
			t.Errorf("exists %v, error %q", d.GetConfigFileExists(), d.GetConfigError())
		}
	})
}

// A dockerd forked by the engine's dockerd that has not exec'd yet has the
// same command line: it is not a second engine.
func TestInspectAllSkipsAForkInProgress(t *testing.T) {
	fsys := hostfs.New("testdata/proc")
	desktop := readArgv(t, "desktop")
	all := []procs.Process{
		{PID: 143, PPID: 1, Comm: "dockerd", Argv: desktop},
		{PID: 900, PPID: 1, Comm: "dockerd", Argv: readArgv(t, "ci-second")},
		{PID: 4054, PPID: 143, Comm: "dockerd", Argv: desktop},
		// A dockerd started by a dockerd with another command line is one.
		{PID: 4060, PPID: 900, Comm: "dockerd", Argv: []string{"dockerd", "--data-root", "/var/lib/nested"}},
	}
	var pids []int32
	for _, d := range InspectAll(fsys, all) {
		pids = append(pids, d.GetPid())
	}
	if want := []int32{143, 900, 4060}; !slices.Equal(pids, want) {
		t.Errorf("InspectAll pids = %v, want %v", pids, want)
	}
}
