package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// event is the part of a WatchEvent JSON line the harness matches on.
type event struct {
	Kind      string `json:"kind"`
	Action    string `json:"action"`
	Summary   string `json:"summary"`
	ProbePid  int    `json:"probePid"`
	Device    string `json:"device"`
	Interface struct {
		Name string `json:"name"`
	} `json:"interface"`
	Address struct {
		Cidr string `json:"cidr"`
	} `json:"address"`
	Route struct {
		Destination string `json:"destination"`
	} `json:"route"`
	Mount struct {
		MountPoint string `json:"mountPoint"`
	} `json:"mount"`
}

// change is one thing the harness does and the event it expects.
type change struct {
	what  string
	ns    string // "net" or "mnt"
	args  []string
	match func(event) bool
}

func rounds(i int) []change {
	a, p := fmt.Sprintf("dpw%da", i), fmt.Sprintf("dpw%db", i)
	addr := fmt.Sprintf("10.200.%d.1/24", i)
	dst := fmt.Sprintf("10.201.%d.0/24", i)
	dir := fmt.Sprintf("/mnt/dpw%d", i)
	return []change{
		{"interface added", "net", []string{"ip", "link", "add", a, "type", "veth", "peer", "name", p},
			func(e event) bool { return e.Kind == "interface" && e.Action == "added" && e.Interface.Name == a }},
		{"address added", "net", []string{"ip", "addr", "add", addr, "dev", a},
			func(e event) bool { return e.Kind == "address" && e.Action == "added" && e.Address.Cidr == addr }},
		{"interface up", "net", []string{"ip", "link", "set", a, "up"},
			func(e event) bool { return e.Kind == "interface" && e.Action == "up" && e.Interface.Name == a }},
		{"route added", "net", []string{"ip", "route", "add", dst, "via", fmt.Sprintf("10.200.%d.254", i)},
			func(e event) bool { return e.Kind == "route" && e.Action == "added" && e.Route.Destination == dst }},
		{"route removed", "net", []string{"ip", "route", "del", dst},
			func(e event) bool { return e.Kind == "route" && e.Action == "removed" && e.Route.Destination == dst }},
		{"mount added", "mnt", []string{"mount", "-t", "tmpfs", "dpbench", dir},
			func(e event) bool { return e.Kind == "mount" && e.Action == "added" && e.Mount.MountPoint == dir }},
		{"mount removed", "mnt", []string{"umount", dir},
			func(e event) bool { return e.Kind == "mount" && e.Action == "removed" && e.Mount.MountPoint == dir }},
		{"interface removed", "net", []string{"ip", "link", "del", a},
			func(e event) bool { return e.Kind == "interface" && e.Action == "removed" && e.Interface.Name == a }},
	}
}

// nsCmd runs args inside the engine's network or mount namespace.
func (b *bench) nsCmd(ctx context.Context, ns string, args []string) *exec.Cmd {
	enter := "--net=" + b.env["LK_NETNS_PATH"]
	if ns == "mnt" {
		enter = "--mount=/proc/" + b.env["LK_HOLDER_PID"] + "/ns/mnt"
	}
	return exec.CommandContext(ctx, "nsenter", append([]string{enter, "--"}, args...)...)
}

// watch starts `agent watch -o json`, makes changes in the engine's
// namespaces and times each from just before the command starts to the
// arrival of its event line, measures the probe's CPU while idle, then
// optionally restarts dockerd with another flag, and finally interrupts the
// watch and checks that the probe container is gone.
func (b *bench) watch(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.o.agent, "watch", "-o", "json")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+b.host, "DOCKER_CONTEXT=")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	lines := make(chan line, 1024)
	go readLines(stdout, lines)

	next := func(timeout time.Duration, match func(event) bool) (event, time.Time, error) {
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return event{}, time.Time{}, errors.New("agent watch ended")
				}
				var e event
				if err := json.Unmarshal([]byte(l.text), &e); err != nil {
					return e, l.at, fmt.Errorf("agent watch printed a non-JSON line: %q", l.text)
				}
				if b.o.verbose {
					b.logf("watch: %s", l.text)
				}
				if match(e) {
					return e, l.at, nil
				}
			case <-deadline:
				return event{}, time.Time{}, errors.New("timed out waiting for an event")
			}
		}
	}
	started := time.Now()
	ready, readyAt, err := next(60*time.Second, func(e event) bool { return e.Kind == "ready" })
	if err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	b.res.WatchStartup = readyAt.Sub(started)

	for i := range b.o.watchN {
		if out, err := b.nsCmd(ctx, "mnt", []string{"mkdir", "-p", fmt.Sprintf("/mnt/dpw%d", i)}).CombinedOutput(); err != nil {
			return fmt.Errorf("mkdir: %w\n%s", err, out)
		}
		for _, c := range rounds(i) {
			t0 := time.Now()
			if out, err := b.nsCmd(ctx, c.ns, c.args).CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %w\n%s", strings.Join(c.args, " "), err, out)
			}
			cmdTime := time.Since(t0)
			_, at, err := next(5*time.Second, c.match)
			if err != nil {
				return fmt.Errorf("after %q: %w", strings.Join(c.args, " "), err)
			}
			b.res.WatchLatency = append(b.res.WatchLatency, watchSample{what: c.what, latency: at.Sub(t0), cmd: cmdTime})
		}
	}

	// Idle: the probe's CPU time over a quiet window.
	if ready.ProbePid > 0 {
		before, err1 := cpuTicks(ready.ProbePid)
		time.Sleep(b.o.idle)
		after, err2 := cpuTicks(ready.ProbePid)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("probe CPU: %w", err)
		}
		b.res.IdleWindow = b.o.idle
		b.res.IdleTicks = after - before
	}

	if b.o.restart {
		if err := b.restartDockerd(ctx, next); err != nil {
			return fmt.Errorf("dockerd restart: %w", err)
		}
	}

	cmd.Process.Signal(os.Interrupt)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		b.res.WatchExit = fmt.Sprint(err)
		if err == nil {
			b.res.WatchExit = "exit 0"
		}
	case <-time.After(20 * time.Second):
		return errors.New("agent watch did not end on Ctrl-C")
	}
	time.Sleep(500 * time.Millisecond)
	left, err := b.docker(ctx, "ps", "-aq", "--filter", "label=io.dockprobe.probe=true")
	if err != nil {
		return err
	}
	b.res.WatchLeftover = len(strings.Fields(left))
	return nil
}

// restartDockerd stops the engine's dockerd and starts it again in the same
// namespaces with --debug toggled, keeping lkenv's pid file right, and times
// the new process's start to the watch's "restarted" line.
func (b *bench) restartDockerd(ctx context.Context, next func(time.Duration, func(event) bool) (event, time.Time, error)) error {
	pid, err := strconv.Atoi(b.env["LK_DOCKERD_PID"])
	if err != nil {
		return fmt.Errorf("LK_DOCKERD_PID %q: %w", b.env["LK_DOCKERD_PID"], err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return err
	}
	argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if i := slices.Index(argv, "--debug"); i >= 0 {
		argv = slices.Delete(argv, i, i+1)
	} else {
		argv = append(argv, "--debug")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if i > 600 {
			return errors.New("dockerd did not stop in 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	logf, err := os.OpenFile(filepath.Join(b.stateDir(), "dockerd.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	nsArgs := append([]string{"--mount=/proc/" + b.env["LK_HOLDER_PID"] + "/ns/mnt", "--net=" + b.env["LK_NETNS_PATH"], "--"}, argv...)
	d := exec.Command("nsenter", nsArgs...)
	d.Stdout, d.Stderr = logf, logf
	if b.spec.bin != "" {
		// As lkenv.sh starts it: the engine's own containerd-shim, runc
		// and docker-proxy come first on the daemon's PATH.
		d.Env = append(os.Environ(), "PATH="+b.spec.bin+":"+os.Getenv("PATH"))
	}
	d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	t0 := time.Now()
	if err := d.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.stateDir(), "dockerd.pid"), []byte(strconv.Itoa(d.Process.Pid)+"\n"), 0o644); err != nil {
		return err
	}
	go d.Wait() // reap it should it exit while we run
	_, at, err := next(90*time.Second, func(e event) bool { return e.Kind == "daemon" && e.Action == "restarted" })
	if err != nil {
		return err
	}
	b.res.RestartLatency = at.Sub(t0)
	return b.readEnv(ctx)
}
