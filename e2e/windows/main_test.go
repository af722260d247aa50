//go:build linux

package windows

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The suite's own LinuxKit-shaped engine, apart from the main e2e suite's.
// Its daemon.json carries a "features" map with two keys that differ only in
// case (dockerd accepts any feature name): the JSON test proves the agent's
// output never passes such an object on to PowerShell.
const (
	lkNetns     = "dockprobe-win"
	lkState     = "/var/lib/dockprobe-win"
	lkCgroup    = "/dockprobe-win"
	lkDaemonCfg = `{"builder":{"gc":{"defaultKeepStorage":"20GB","enabled":true}},"experimental":false,"features":{"dockprobe-case":true,"DockProbe-Case":false}}`
	probeLabel  = "io.dockprobe.probe=true"
)

var (
	repoRoot   string
	agentExe   string // bin/cross/agent-windows-amd64.exe (run under Wine)
	agentLinux string // bin/agent (the same engine, for comparison)
	wineBin    string // npiperelay.exe, wincon.exe
	wineEnv    []string
	lkScript   string
	lkEnv      map[string]string
	engineTCP  string // 127.0.0.1:port relayed to the engine's unix socket
	userDir    string // the prefix's %USERPROFILE% (Unix path)
	userWin    string // the same, as Windows sees it (C:\users\root)
	appDataDir string // the prefix's %APPDATA% (Unix path)
)

func TestMain(m *testing.M) {
	if os.Getenv("DOCKPROBE_E2E_WINDOWS") != "1" {
		fmt.Println("e2e/windows: not enabled; run `make e2e-windows` (DOCKPROBE_E2E_WINDOWS=1, root, wine, gcc-mingw-w64-x86-64)")
		os.Exit(0)
	}
	code, err := setup(m)
	if err != nil {
		// Never a skip: a missing Wine or a broken prefix fails CI.
		fmt.Fprintln(os.Stderr, "e2e/windows setup failed:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (code int, err error) {
	if os.Geteuid() != 0 {
		return 0, errors.New("needs root (it creates namespaces and runs dockerd)")
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..")
	agentExe = envOr("DOCKPROBE_AGENT_WINDOWS", filepath.Join(repoRoot, "bin", "cross", "agent-windows-amd64.exe"))
	agentLinux = envOr("DOCKPROBE_AGENT", filepath.Join(repoRoot, "bin", "agent"))
	for _, f := range []string{agentExe, agentLinux} {
		if _, err := os.Stat(f); err != nil {
			return 0, fmt.Errorf("%w (run `make e2e-windows`, which builds both agents)", err)
		}
	}

	// One suite at a time per prefix: the pipe name \\.\pipe\docker_engine
	// and %USERPROFILE% are shared by everything in it.
	cache := envOr("DOCKPROBE_WINE_CACHE", "/var/cache/dockprobe/wine")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return 0, err
	}
	lock, err := os.OpenFile(filepath.Join(cache, "prefix.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock the prefix: %w", err)
	}

	start := time.Now()
	prepare := exec.Command("bash", filepath.Join(wd, "prepare.sh"))
	prepare.Env = append(os.Environ(), "DOCKPROBE_WINE_LOCK_HELD=1", "DOCKPROBE_WINE_CACHE="+cache)
	prepare.WaitDelay = 10 * time.Second
	out, err := prepare.Output()
	if err != nil {
		return 0, fmt.Errorf("prepare.sh: %w\n%s", err, stderrOf(err))
	}
	prep := parseEnv(out)
	fmt.Printf("e2e/windows: prefix ready in %s (%s)\n", time.Since(start).Round(time.Millisecond), prep["DOCKPROBE_WINE_VERSION"])
	wineBin = prep["DOCKPROBE_WINE_BIN"]
	// Only what Wine needs: no DOCKER_* from the caller's environment.
	wineEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "USER=root", "LANG=C.UTF-8",
		"WINEPREFIX=" + prep["WINEPREFIX"], "WINEARCH=win64", "WINEDEBUG=-all"}

	// A persistent wineserver for the whole suite (each wine start would
	// otherwise pay for its own); -k at the end ends every Wine process of
	// this prefix, watchdogs included.
	// (No output capture: the server it forks would hold the pipe open.)
	if err := wineCmd("wineserver", "-p").Run(); err != nil {
		return 0, fmt.Errorf("wineserver -p: %w", err)
	}
	defer wineCmd("wineserver", "-k").Run()
	// Wine's service processes (services.exe, rpcss.exe, ...) start with the
	// first program and inherit its stdio: let that be one whose stdio is
	// /dev/null, or they would hold later captured outputs open.
	if err := wineCmd("wine", filepath.Join(wineBin, "wincon.exe"), "ping").Run(); err != nil {
		return 0, fmt.Errorf("wincon.exe ping: %w", err)
	}

	if err := findUserDirs(); err != nil {
		return 0, err
	}
	for _, d := range []string{filepath.Join(userDir, ".docker"), filepath.Join(appDataDir, "Docker")} {
		if err := os.RemoveAll(d); err != nil {
			return 0, err
		}
		defer os.RemoveAll(d)
	}

	lkScript = filepath.Join(repoRoot, "e2e", "lkenv", "lkenv.sh")
	if out, err := lkCmd("up").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("lkenv up: %w\n%s", err, out)
	}
	defer func() {
		if out, err := lkCmd("down").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "lkenv down: %v\n%s", err, out)
		}
	}()
	out, err = lkCmd("env").Output()
	if err != nil {
		return 0, fmt.Errorf("lkenv env: %w", err)
	}
	lkEnv = parseEnv(out)

	stopTCP, err := relayTCP(lkEnv["LK_SOCK"])
	if err != nil {
		return 0, err
	}
	defer stopTCP()
	// Docker Desktop's pipe, as every Windows user has it.
	stopPipe, err := startPipeRelay(`\\.\pipe\docker_engine`, "-to", engineTCP)
	if err != nil {
		return 0, err
	}
	defer stopPipe()
	return m.Run(), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func lkCmd(arg string) *exec.Cmd {
	cmd := exec.Command("bash", lkScript, arg)
	cmd.Env = append(os.Environ(), "LK_NETNS="+lkNetns, "LK_STATE="+lkState, "LK_CGROUP_PARENT="+lkCgroup, "LK_DAEMON_JSON="+lkDaemonCfg)
	return cmd
}

// wineCmd is a command with the prefix's environment (no DOCKER_*).
func wineCmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{}, wineEnv...)
	return cmd
}

// findUserDirs asks Wine where %USERPROFILE% and %APPDATA% are, rather
// than guessing the prefix's layout.
func findUserDirs() error {
	cmd := wineCmd("wine", "cmd.exe", "/c", "set")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("wine cmd /c set: %w", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			vars[strings.ToUpper(k)] = v
		}
	}
	win, app := vars["USERPROFILE"], vars["APPDATA"]
	if !strings.Contains(win, `:\`) || !strings.Contains(app, `:\`) {
		return fmt.Errorf("wine cmd /c set gave USERPROFILE=%q APPDATA=%q", win, app)
	}
	userWin = win
	unix, err := wineCmd("winepath", "-u", win, app).Output()
	if err != nil {
		return fmt.Errorf("winepath -u: %w", err)
	}
	paths := strings.Fields(string(unix))
	if len(paths) != 2 {
		return fmt.Errorf("winepath -u %s %s gave %q", win, app, unix)
	}
	userDir, appDataDir = strings.TrimSuffix(paths[0], "/"), strings.TrimSuffix(paths[1], "/")
	return os.MkdirAll(appDataDir, 0o755)
}

// relayTCP exposes the engine's unix socket on a loopback TCP port (never
// any other address), as Docker Desktop's VM sits behind its pipe.
func relayTCP(sock string) (stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	engineTCP = l.Addr().String()
	go serveRelay(l, func() (net.Conn, error) { return net.Dial("unix", sock) })
	return func() { l.Close() }, nil
}

// serveRelay copies every accepted connection to a fresh upstream one,
// passing half-closes on (attach streams end with one).
func serveRelay(l net.Listener, dial func() (net.Conn, error)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := dial()
			if err != nil {
				return
			}
			defer u.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(u, c); closeWrite(u) }()
			go func() { defer wg.Done(); io.Copy(c, u); closeWrite(c) }()
			wg.Wait()
		}()
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}

// startPipeRelay runs npiperelay.exe under Wine serving pipe, and waits
// until it has taken go-winio's placeholder instance ("ready").
func startPipeRelay(pipe string, args ...string) (stop func(), err error) {
	cmd := wineCmd("wine", append([]string{filepath.Join(wineBin, "npiperelay.exe"), "-pipe", pipe}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() {
		stdin.Close() // the relay ends when its stdin does
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() && sc.Text() == "ready" {
			ready <- nil
			io.Copy(io.Discard, stdout)
			return
		}
		ready <- fmt.Errorf("npiperelay %s did not start: %s", pipe, stderr.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			stop()
			return nil, err
		}
	case <-time.After(60 * time.Second):
		stop()
		return nil, fmt.Errorf("npiperelay %s: no ready within 60 s: %s", pipe, stderr.String())
	}
	return stop, nil
}

// parseEnv reads `export NAME=value` lines as bash's %q writes them.
func parseEnv(b []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `'"`)
		env[k] = strings.NewReplacer(`\ `, " ", `\(`, "(", `\)`, ")", `\[`, "[", `\]`, "]").Replace(v)
	}
	return env
}

type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// win runs the Windows agent under Wine through pipes (no console), with
// env added to the prefix's environment. No DOCKER_* unless env has it.
func win(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", append([]string{agentExe}, args...)...)
	cmd.Env = append(append([]string{}, wineEnv...), env...)
	// The watchdog the agent leaves behind may hold inherited handles.
	cmd.WaitDelay = 5 * time.Second
	return run(t, cmd)
}

// linux runs the Linux agent against the same engine's unix socket.
func linux(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), agentLinux, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DOCKER_HOST=" + lkEnv["DOCKER_HOST"]}
	return run(t, cmd)
}

func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
	case err != nil:
		t.Fatalf("run %s: %v", cmd.Path, err)
	}
	return r
}

// docker runs the Linux docker CLI against the suite's engine.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", lkEnv["DOCKER_HOST"]}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// probeContainers lists the probe containers on the engine.
func probeContainers(t *testing.T) []string {
	out := docker(t, "ps", "-a", "--filter", "label="+probeLabel, "--format", "{{.Names}} {{.State}}")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// requireNoProbes fails the test unless every probe container is gone
// within d.
func requireNoProbes(t *testing.T, d time.Duration, what string) {
	t.Helper()
	if !noProbesLeft(t, d, what) {
		t.FailNow()
	}
}

// noProbesAfter waits until d after ended and then reports any probe
// container still there as a leak (an in-flight create can land on the
// engine well after the agent has gone, so an early empty list proves
// nothing), removing the leftovers so the next run is judged alone.
func noProbesAfter(t *testing.T, ended time.Time, d time.Duration, what string) {
	t.Helper()
	time.Sleep(time.Until(ended.Add(d)))
	left := probeContainers(t)
	if len(left) == 0 {
		return
	}
	t.Errorf("%s: probe containers still present %s later: %v", what, d, left)
	for _, l := range left {
		exec.Command("docker", "-H", lkEnv["DOCKER_HOST"], "rm", "-f", strings.Fields(l)[0]).Run()
	}
}

// noProbesLeft reports a leak as an error and removes the leftovers, so
// that the next run of a loop starts clean and is judged on its own.
func noProbesLeft(t *testing.T, d time.Duration, what string) bool {
	t.Helper()
	stop := time.Now().Add(d)
	for {
		left := probeContainers(t)
		if len(left) == 0 {
			return true
		}
		if time.Now().After(stop) {
			t.Errorf("%s: probe containers still present %s later: %v", what, d, left)
			for _, l := range left {
				exec.Command("docker", "-H", lkEnv["DOCKER_HOST"], "rm", "-f", strings.Fields(l)[0]).Run()
			}
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}
