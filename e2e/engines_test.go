package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The suite runs every Docker test on two engines side by side: Debian's
// Docker 20.10 (API 1.41, containerd 1.6, runc 1.1) and today's engine as
// Docker Desktop ships it (Docker Engine 29, containerd 2 with its image
// store, runc 1.5), built by e2e/tools/install-engine.sh. Both are
// LinuxKit-shaped (e2e/lkenv/lkenv.sh) and up for the whole run; the
// containerd-only layout runs on both containerd versions.
//
// Names of everything an environment creates (netns, state directory,
// cgroup parent) derive from DOCKPROBE_E2E_ID (default "dockprobe"), so
// several runs on one machine never meet. LK_NETNS, LK_STATE and
// LK_CGROUP_PARENT, when set, replace the id as the prefix of those names.

// engineSpec says which binaries an environment runs.
type engineSpec struct {
	tag string // short, part of every name: "deb" (the system's) or "cur" (today's)
	bin string // LK_ENGINE_BIN: the engine's binaries, first on the daemons' PATH; "" = the system's
}

// engineEnv is one LinuxKit-shaped Docker engine the suite brought up.
type engineEnv struct {
	Name    string            // subtest name from the engine's own version: "docker-20.10", "docker-29"
	Version string            // the engine's Server.Version, e.g. "20.10.24+dfsg1", "29.8.1"
	API     string            // the engine's Server.APIVersion, e.g. "1.41", "1.52"
	Host    string            // DOCKER_HOST for it (unix://$LK_STATE/docker.sock)
	Env     map[string]string // `lkenv.sh env`: LK_DOCKERD_PID, LK_CONTAINERD_PID, LK_HOLDER_PID, LK_STATE, ...
	Bin     string            // its binaries' directory; "" for the system's dockerd and containerd

	spec     engineSpec
	settings []string // the LK_* settings lkenv.sh gets for this environment
}

// ctrEnv is a containerd-only environment (LK_RUNTIME=containerd: the
// layout of Rancher Desktop, Lima, Finch, colima), driven by nerdctl.
type ctrEnv struct {
	Name    string            // subtest name from containerd's own version: "containerd-1.6", "containerd-2.4"
	Version string            // containerd's version, e.g. "1.6.20~ds1", "2.4.2"
	Env     map[string]string // `lkenv.sh env` (no DOCKER_HOST, no LK_DOCKERD_PID)
	Bin     string            // as engineEnv.Bin
	Nerdctl nctl              // a nerdctl that runs inside the environment

	spec     engineSpec
	settings []string
}

var (
	engineSpecs []engineSpec // what the suite runs, in order: the system's engine, then today's
	engines     []*engineEnv // up for the whole run, same order
)

// e2eID prefixes every name the suite creates.
func e2eID() string {
	if id := os.Getenv("DOCKPROBE_E2E_ID"); id != "" {
		return id
	}
	return "dockprobe"
}

// lkSettings names one environment: tag plus an optional suffix ("sec",
// "ctr") after the run's prefix.
func lkSettings(spec engineSpec, suffix string) []string {
	part := spec.tag
	if suffix != "" {
		part += "-" + suffix
	}
	netns := e2eID() + "-" + part
	if v := os.Getenv("LK_NETNS"); v != "" {
		netns = v + "-" + part
	}
	state := "/var/lib/" + netns
	if v := os.Getenv("LK_STATE"); v != "" {
		state = v + "-" + part
	}
	cgroup := "/" + netns
	if v := os.Getenv("LK_CGROUP_PARENT"); v != "" {
		cgroup = v + "-" + part
	}
	s := []string{"LK_NETNS=" + netns, "LK_STATE=" + state, "LK_CGROUP_PARENT=" + cgroup, "LK_ENGINE_BIN=" + spec.bin}
	if spec.bin == "" {
		// The system's daemons, whatever an outer LK_DOCKERD says.
		s = append(s, "LK_DOCKERD=/usr/sbin/dockerd", "LK_CONTAINERD=/usr/bin/containerd")
	} else {
		s = append(s, "LK_DOCKERD="+filepath.Join(spec.bin, "dockerd"), "LK_CONTAINERD="+filepath.Join(spec.bin, "containerd"))
	}
	return s
}

// lkenvRun runs lkenv.sh with settings; stdout is the answer, stderr is
// added to the error.
func lkenvRun(settings []string, args ...string) ([]byte, error) {
	cmd := exec.Command("bash", append([]string{lkScript}, args...)...)
	cmd.Env = append(os.Environ(), settings...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("lkenv %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// upEnv brings one environment up and reads its env; on failure it is
// torn down again.
func upEnv(settings []string) (map[string]string, error) {
	if _, err := lkenvRun(settings, "up"); err != nil {
		return nil, err
	}
	out, err := lkenvRun(settings, "env")
	if err != nil {
		lkenvRun(settings, "down")
		return nil, err
	}
	return parseEnv(out), nil
}

// newEngine brings up a Docker engine of spec with extra settings and names
// it from its version.
func newEngine(spec engineSpec, suffix string, extra ...string) (*engineEnv, error) {
	settings := append(lkSettings(spec, suffix), extra...)
	env, err := upEnv(settings)
	if err != nil {
		return nil, err
	}
	e := &engineEnv{Host: env["DOCKER_HOST"], Env: env, Bin: spec.bin, spec: spec, settings: settings}
	if e.Host == "" || env["LK_DOCKERD_PID"] == "" {
		e.down()
		return nil, fmt.Errorf("lkenv env gave no DOCKER_HOST or LK_DOCKERD_PID: %v", env)
	}
	out, err := exec.Command("docker", "-H", e.Host, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}").Output()
	if err != nil {
		e.down()
		return nil, fmt.Errorf("docker version on %s: %w", e.Host, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		e.down()
		return nil, fmt.Errorf("docker version on %s: %q", e.Host, out)
	}
	e.Version, e.API = f[0], f[1]
	if e.Name, err = engineName("docker", e.Version); err != nil {
		e.down()
		return nil, err
	}
	return e, nil
}

func (e *engineEnv) down() error {
	_, err := lkenvRun(e.settings, "down")
	return err
}

// lkenv runs lkenv.sh (exec, status...) for this environment.
func (e *engineEnv) lkenv(args ...string) ([]byte, error) { return lkenvRun(e.settings, args...) }

// exec runs a command inside the environment's netns and mount namespace
// and fails t when it fails.
func (e *engineEnv) exec(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.lkenv(append([]string{"exec"}, args...)...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return string(out)
}

// daemonPath is the PATH lkenv.sh starts e's daemons with.
func daemonPath(e *engineEnv) string {
	if e.Bin == "" {
		return os.Getenv("PATH")
	}
	return e.Bin + ":" + os.Getenv("PATH")
}

// command is lkenv.sh with args for this environment, not yet started.
func (e *engineEnv) command(args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{lkScript}, args...)...)
	cmd.Env = append(os.Environ(), e.settings...)
	return cmd
}

// sibling starts another environment of the same engine (with suffix in
// its names and extra lkenv settings) for t alone, and stops it when t ends.
func (e *engineEnv) sibling(t *testing.T, suffix string, extra ...string) *engineEnv {
	t.Helper()
	s, err := newEngine(e.spec, suffix, extra...)
	if err != nil {
		t.Fatalf("start a second %s engine: %v", e.Name, err)
	}
	t.Cleanup(func() {
		if err := s.down(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return s
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)`)

// engineName turns a version into a subtest name: the release line as its
// maker numbers it. Docker up to 20.10 numbered releases YY.MM (major.minor
// is the line); from 23.0 on the major alone is ("docker-29"). containerd's
// lines are major.minor.
func engineName(product, version string) (string, error) {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("%s reports version %q, which names no release (built without its version?)", product, version)
	}
	if product == "docker" {
		var major int
		fmt.Sscan(m[1], &major)
		if major >= 23 {
			return product + "-" + m[1], nil
		}
	}
	return product + "-" + m[1] + "." + m[2], nil
}

// containerdVersion asks a containerd binary its version:
// "containerd github.com/containerd/containerd/v2 2.4.2+unknown ".
func containerdVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "", fmt.Errorf("%s --version: %q", bin, out)
	}
	return f[2], nil
}

// startEngines brings up one engine per spec, in parallel (each has its own
// names, so they share nothing), and stops all of them if one fails.
func startEngines(specs []engineSpec) ([]*engineEnv, error) {
	out := make([]*engineEnv, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = newEngine(s, "")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			stopEngines(out)
			return nil, fmt.Errorf("engine %s: %w", specs[i].tag, err)
		}
	}
	seen := map[string]bool{}
	for _, e := range out {
		if seen[e.Name] {
			stopEngines(out)
			return nil, fmt.Errorf("two engines are both %s: nothing would tell their subtests apart", e.Name)
		}
		seen[e.Name] = true
	}
	return out, nil
}

func stopEngines(es []*engineEnv) {
	for _, e := range es {
		if e == nil {
			continue
		}
		if err := e.down(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// forEachEngine runs f as one subtest per engine, named after the engine
// (t.Run(e.Name)). The subtests run one after the other: on two cores
// parallel engines only make timings lie.
func forEachEngine(t *testing.T, f func(t *testing.T, e *engineEnv)) {
	t.Helper()
	if len(engines) == 0 {
		t.Fatal("no engine is up (TestMain did not run?)")
	}
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) { f(t, e) })
	}
}

// forEachContainerd runs f as one subtest per containerd version (the
// system's and today's), each with a fresh containerd-only environment of
// its own, torn down when the subtest ends.
func forEachContainerd(t *testing.T, f func(t *testing.T, c *ctrEnv)) {
	t.Helper()
	for _, spec := range engineSpecs {
		bin := "/usr/bin/containerd"
		if spec.bin != "" {
			bin = filepath.Join(spec.bin, "containerd")
		}
		v, err := containerdVersion(bin)
		if err != nil {
			t.Fatal(err)
		}
		name, err := engineName("containerd", v)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			c := newContainerdOnly(t, spec)
			c.Name, c.Version = name, strings.TrimSuffix(v, "+unknown")
			f(t, c)
		})
	}
}

// newContainerdOnly starts a containerd-only environment of spec for t.
func newContainerdOnly(t *testing.T, spec engineSpec) *ctrEnv {
	t.Helper()
	settings := append(lkSettings(spec, "ctr"), "LK_RUNTIME=containerd")
	env, err := upEnv(settings)
	if err != nil {
		t.Fatalf("containerd-only environment: %v", err)
	}
	t.Cleanup(func() {
		if _, err := lkenvRun(settings, "down"); err != nil {
			t.Errorf("%v", err)
		}
	})
	if env["LK_CONTAINERD_PID"] == "" || env["DOCKER_HOST"] != "" || env["LK_DOCKERD_PID"] != "" {
		t.Fatalf("lkenv env (containerd only) gave: %v", env)
	}
	c := &ctrEnv{Env: env, Bin: spec.bin, spec: spec, settings: settings}
	c.Nerdctl = nerdctlIn(t, env)
	return c
}

// lkenv runs lkenv.sh (exec, status...) for this environment.
func (c *ctrEnv) lkenv(args ...string) ([]byte, error) { return lkenvRun(c.settings, args...) }

// engineBin is today's engine's binaries: DOCKPROBE_ENGINE_BIN, or what
// e2e/tools/install-engine.sh prints (seconds when cached; a fresh machine
// builds it first, ~12 minutes).
func engineBin(wd string) (string, error) {
	if d := os.Getenv("DOCKPROBE_ENGINE_BIN"); d != "" {
		return d, nil
	}
	cmd := exec.Command("bash", filepath.Join(wd, "tools", "install-engine.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("e2e/tools/install-engine.sh: %w (or set DOCKPROBE_ENGINE_BIN to its bin directory)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// checkEngineBin fails early, in one line, when a binary is missing.
func checkEngineBin(dir string) error {
	for _, b := range []string{"dockerd", "docker-proxy", "containerd", "containerd-shim-runc-v2", "runc"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("DOCKPROBE_ENGINE_BIN=%s has no executable %s (run e2e/tools/install-engine.sh)", dir, b)
		}
	}
	return nil
}
