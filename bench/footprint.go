package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// probeRSS runs `agent probe` a few more times (not the timed runs: the
// sampling would slow them) while sampling, every millisecond, the probe
// container's memory cgroup (created under the engine's --cgroup-parent)
// and its process's VmHWM. Both only grow, so the last sample before the
// container goes away is the peak, as long as one sample lands after the
// report was sent: the probe lives on until the agent hangs up, which
// takes longer than the sampling period.
func (b *bench) probeRSS(ctx context.Context) error {
	parent, err := b.memCgroupParent()
	if err != nil {
		return err
	}
	for range 3 {
		stop := make(chan struct{})
		got := make(chan footprint, 1)
		go func() { got <- sampleProbe(parent, stop) }()
		_, err := b.timed(ctx, b.o.agent, "probe", "-o", "json")
		// Let the sampler see the container leave.
		time.Sleep(300 * time.Millisecond)
		close(stop)
		f := <-got
		if err != nil {
			return err
		}
		if f.hwmKiB == 0 && f.cgroupBytes == 0 {
			return fmt.Errorf("no probe container appeared under %s", parent)
		}
		b.res.ProbeHWM = append(b.res.ProbeHWM, f.hwmKiB)
		b.res.ProbeCgroup = append(b.res.ProbeCgroup, f.cgroupBytes)
	}
	b.res.ProbeRSSHow = "VmHWM of the probe process (/proc/<pid>/status) and the container's memory cgroup " +
		"peak (" + filepath.Base(b.res.cgroupFile) + "), sampled every 1 ms from the host during 3 extra `agent probe` runs"
	return nil
}

type footprint struct {
	hwmKiB      int64
	cgroupBytes int64
}

// memCgroupParent finds the engine's --cgroup-parent in the memory
// controller: cgroup v2 (unified) or v1.
func (b *bench) memCgroupParent() (string, error) {
	name := b.env["LK_CGROUP_PARENT"]
	if name == "" {
		name = "/" + b.netns()
	}
	for _, dir := range []string{"/sys/fs/cgroup" + name, "/sys/fs/cgroup/memory" + name} {
		if _, err := os.Stat(filepath.Join(dir, "memory.peak")); err == nil {
			b.res.cgroupFile = "memory.peak"
			return dir, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "memory.max_usage_in_bytes")); err == nil {
			b.res.cgroupFile = "memory.max_usage_in_bytes"
			return dir, nil
		}
	}
	return "", fmt.Errorf("no memory cgroup for the engine's cgroup parent %s", name)
}

func sampleProbe(parent string, stop <-chan struct{}) footprint {
	var f footprint
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return f
		case <-t.C:
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			for _, file := range []string{"memory.peak", "memory.max_usage_in_bytes"} {
				if v, err := readInt(filepath.Join(dir, file)); err == nil && v > f.cgroupBytes {
					f.cgroupBytes = v
				}
			}
			procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, p := range strings.Fields(string(procs)) {
				if v := vmHWM(p); v > f.hwmKiB {
					f.hwmKiB = v
				}
			}
		}
	}
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// vmHWM is a process's peak resident set in KiB.
func vmHWM(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				v, _ := strconv.ParseInt(fields[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	fields := strings.Fields(s[i+1:])
	// After the comm: state(0) ... utime(11) stime(12).
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed stat %q", s)
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + st, nil
}
