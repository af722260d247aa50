package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
)

func TestRuntimeOptions(t *testing.T) {
	for _, tt := range []struct {
		name      string
		r         runtimeOptions
		g         globalOptions
		usage     bool
		firstNerd bool
	}{
		{name: "default is auto, Docker first", r: runtimeOptions{runtime: RuntimeAuto}},
		{name: "docker", r: runtimeOptions{runtime: RuntimeDocker}},
		{name: "nerdctl", r: runtimeOptions{runtime: RuntimeNerdctl}, firstNerd: true},
		{name: "--namespace implies nerdctl", r: runtimeOptions{runtime: RuntimeAuto, namespace: "k8s.io"}, firstNerd: true},
		{name: "--address implies nerdctl", r: runtimeOptions{runtime: RuntimeAuto, address: "/run/k3s/containerd/containerd.sock"}, firstNerd: true},
		{name: "unknown runtime", r: runtimeOptions{runtime: "podman"}, usage: true},
		{name: "nerdctl flags with docker", r: runtimeOptions{runtime: RuntimeDocker, namespace: "x"}, usage: true},
		{name: "nerdctl with --host", r: runtimeOptions{runtime: RuntimeNerdctl}, g: globalOptions{host: "unix:///x.sock"}, usage: true},
		{name: "--address with --context", r: runtimeOptions{runtime: RuntimeAuto, address: "/a"}, g: globalOptions{context: "desktop"}, usage: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.validate(&tt.g)
			if tt.usage != errors.Is(err, ErrUsage) {
				t.Fatalf("validate: %v, want usage error %v", err, tt.usage)
			}
			if err == nil && tt.r.nerdctlFirst() != tt.firstNerd {
				t.Errorf("nerdctlFirst = %v, want %v", !tt.firstNerd, tt.firstNerd)
			}
		})
	}
}

func TestNerdctlFallback(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nerdctl"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unreachable := fmt.Errorf("%w: connection refused", engine.ErrEngineUnreachable)
	auto := &runtimeOptions{runtime: RuntimeAuto}

	t.Setenv("PATH", dir)
	if !auto.nerdctlFallback(unreachable, &globalOptions{}) {
		t.Error("no fallback with nerdctl on PATH and no engine")
	}
	if auto.nerdctlFallback(errors.New("TLS config"), &globalOptions{}) {
		t.Error("fallback on an error that is not 'unreachable'")
	}
	if auto.nerdctlFallback(unreachable, &globalOptions{host: "tcp://x:2376"}) {
		t.Error("fallback although the user chose a Docker host")
	}
	if (&runtimeOptions{runtime: RuntimeDocker}).nerdctlFallback(unreachable, &globalOptions{}) {
		t.Error("fallback although --runtime docker")
	}
	t.Setenv("PATH", t.TempDir())
	if auto.nerdctlFallback(unreachable, &globalOptions{}) {
		t.Error("fallback without nerdctl on PATH")
	}
}
