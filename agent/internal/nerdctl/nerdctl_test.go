//go:build unix

package nerdctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
)

// fake returns a Client running testdata/fake-nerdctl.sh and the file its
// invocations are logged to.
func fake(t *testing.T, env ...string) (*Client, string) {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"version.json", "info.json", "network-ls.txt", "network-inspect-native.json"} {
		b, err := os.ReadFile(filepath.Join(abs, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logf := filepath.Join(dir, "log")
	t.Setenv("FAKE_DIR", dir)
	t.Setenv("FAKE_LOG", logf)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return &Client{Path: filepath.Join(abs, "fake-nerdctl.sh"), Address: "/run/k3s/containerd/containerd.sock", Namespace: "dp"}, logf
}

func TestFacts(t *testing.T) {
	c, _ := fake(t)
	e, errs := Facts(context.Background(), c)
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if e.GetServerVersion() != "1.6.20~ds1" || e.GetOsType() != "linux" || e.GetArchitecture() != "x86_64" || e.GetCgroupDriver() != "cgroupfs" {
		t.Errorf("engine %v", e)
	}
	if e.GetHost() != "nerdctl --address /run/k3s/containerd/containerd.sock --namespace dp" {
		t.Errorf("host %q", e.GetHost())
	}
	var got []string
	for _, n := range e.GetNetworks() {
		s := n.GetName() + ":" + n.GetDriver() + ":" + n.GetBridge()
		for _, sn := range n.GetSubnets() {
			s += ":" + sn.GetSubnet() + "/" + sn.GetGateway()
		}
		got = append(got, s)
	}
	want := []string{"bridge:bridge:nerdctl0:10.4.0.0/24/10.4.0.1", "dp-net:bridge:br-abc123:10.4.1.0/24/10.4.1.1", "host:host:", "none:null:"}
	if !slices.Equal(got, want) {
		t.Errorf("networks %q\nwant     %q", got, want)
	}
}

func TestFactsUnreachable(t *testing.T) {
	c, _ := fake(t, "FAKE_DOWN=1")
	e, errs := Facts(context.Background(), c)
	if e.GetServerVersion() != "" || len(errs) < 2 {
		t.Fatalf("engine %v, errors %v", e, errs)
	}
	if msg := errs[0].GetMessage(); !strings.Contains(msg, `cannot access containerd socket "/run/containerd/containerd.sock"`) || strings.Contains(msg, "level=fatal") {
		t.Errorf("error %q does not quote nerdctl's reason plainly", msg)
	}
}

func TestEnsureImage(t *testing.T) {
	im, err := probeimage.Lookup("amd64", "dev")
	if err != nil {
		t.Skipf("no embedded probe (run make probe): %v", err)
	}
	c, logf := fake(t)
	loaded, err := c.EnsureImage(context.Background(), im, "dev")
	if err != nil || !loaded {
		t.Fatalf("loaded %v, %v", loaded, err)
	}
	b, _ := os.ReadFile(filepath.Join(os.Getenv("FAKE_DIR"), "loaded.tar"))
	want, _ := im.Archive("dev")
	if string(b) != string(want) {
		t.Errorf("nerdctl load got %d bytes, want the %d-byte archive", len(b), len(want))
	}
	log, _ := os.ReadFile(logf)
	if !strings.Contains(string(log), "--address /run/k3s/containerd/containerd.sock --namespace dp load") {
		t.Errorf("invocations:\n%s", log)
	}

	// Present with the same content: no load.
	c, logf = fake(t, `FAKE_IMAGE_LABELS={"`+probeimage.LabelContent+`":"`+im.Digest+`"}`)
	if loaded, err := c.EnsureImage(context.Background(), im, "dev"); err != nil || loaded {
		t.Fatalf("loaded %v, %v; want the image kept", loaded, err)
	}
	// Present with other content: reloaded.
	c, _ = fake(t, `FAKE_IMAGE_LABELS={"`+probeimage.LabelContent+`":"other"}`)
	if loaded, err := c.EnsureImage(context.Background(), im, "dev"); err != nil || !loaded {
		t.Fatalf("loaded %v, %v; want a reload", loaded, err)
	}
}

// TestRunArgs: the nerdctl command line grants what the Docker launcher's
// container configuration grants, and nothing more.
func TestRunArgs(t *testing.T) {
	im := &probeimage.Image{Ref: "dockprobe/probe:dev"}
	args := RunArgs(launch.Options{Image: im, Options: launcher.Options{Name: "dockprobe-probe-1", Version: "dev", Deadline: 65 * time.Second}})
	line := strings.Join(args, " ")
	for _, want := range []string{
		"run -i --rm --name dockprobe-probe-1 --pid host --net none --read-only",
		"--cap-drop ALL --cap-add SYS_ADMIN --cap-add SYS_PTRACE --security-opt no-new-privileges --security-opt apparmor=unconfined",
		"--memory 268435456 --pids-limit 64",
		"--label io.dockprobe.probe=true", "--label io.dockprobe.version=dev", "--label io.dockprobe.deadline=",
		"dockprobe/probe:dev --deadline 1m5s",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("run args lack %q:\n%s", want, line)
		}
	}
	for _, never := range []string{"--privileged", "--add-host", "-t ", "--net host", "-d "} {
		if strings.Contains(line, never) {
			t.Errorf("run args contain %q:\n%s", never, line)
		}
	}
	if !strings.HasSuffix(line, "dockprobe/probe:dev --deadline 1m5s") {
		t.Errorf("the image and the probe's arguments must come last:\n%s", line)
	}
	priv := strings.Join(RunArgs(launch.Options{Image: im, Options: launcher.Options{Name: "n", Privileged: true, Debug: true, Deadline: time.Second}}), " ")
	if !strings.Contains(priv, "--privileged") || strings.Contains(priv, "--cap-drop") || !strings.HasSuffix(priv, "--deadline 1s --debug") {
		t.Errorf("privileged run args:\n%s", priv)
	}
}

// TestStartRefused: nerdctl's own fatal error is the engine refusing to
// start the probe, quoted, and the container is removed by name.
func TestStartRefused(t *testing.T) {
	c, logf := fake(t, "FAKE_RUN_FAIL=failed to create shim task: OCI runtime create failed")
	im := &probeimage.Image{Ref: "dockprobe/probe:dev"}
	_, err := Start(context.Background(), c, launch.Options{Image: im, Options: launcher.Options{Name: "dockprobe-probe-x", Version: "dev", Deadline: time.Minute}})
	if !errors.Is(err, launch.ErrStart) || !strings.Contains(err.Error(), "OCI runtime create failed") {
		t.Fatalf("got %v, want ErrStart quoting nerdctl", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, _ := os.ReadFile(logf)
		if strings.Contains(string(log), "rm -f dockprobe-probe-x") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container was not removed by name; invocations:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartNoProbe: a run whose other end never speaks gRPC ends as "the
// probe stopped answering", not as a hang.
func TestStartNoProbe(t *testing.T) {
	old := probeclient.HandshakeTimeout
	probeclient.HandshakeTimeout = time.Second
	t.Cleanup(func() { probeclient.HandshakeTimeout = old })
	c, _ := fake(t)
	c.Path = "/bin/true"
	im := &probeimage.Image{Ref: "dockprobe/probe:dev"}
	_, err := Start(context.Background(), c, launch.Options{Image: im, Options: launcher.Options{Name: "n", Version: "dev", Deadline: time.Minute}})
	if !errors.Is(err, probeclient.ErrProbeGone) && !errors.Is(err, probeclient.ErrTimeout) {
		t.Fatalf("got %v", err)
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"":              "(no error message)",
		"plain error\n": "plain error",
		"a\nb\n\n":      "b",
		`time="x" level=fatal msg="no such image: \"dp\"\nmore"`: `no such image: "dp" more`,
	} {
		if got := lastLine(in); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseNativeKeepsBadNetworks(t *testing.T) {
	nets, err := ParseNative([]byte(`[{"CNI":{"name":"x"},"File":"/etc/cni/net.d/x.conflist"}]`))
	if err != nil || len(nets) != 1 || nets[0].GetOptions()["cni.error"] == "" {
		t.Fatalf("got %v, %v", nets, err)
	}
	if _, err := ParseNative([]byte(`{`)); err == nil {
		t.Error("no error for bad JSON")
	}
}
