package collect

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// The scale benchmark (`make bench` runs it with DOCKPROBE_SCALE=1, as
// root): collection against a target with many interfaces (veth pairs and
// bridges in a network namespace of its own), many mounts (bind mounts in a
// private mount namespace) and many processes (sleep), at three sizes, so
// that the curve shows how collection grows.
//
// The target is this test binary re-executed in fresh network and mount
// namespaces (scaleHolderEnv): it builds the links over netlink and the
// mounts with mount(2) itself, far faster than thousands of ip and mount
// commands, then waits for its stdin to close.

const scaleHolderEnv = "DOCKPROBE_SCALE_HOLDER"

func init() {
	if spec := os.Getenv(scaleHolderEnv); spec != "" {
		if err := scaleHolder(spec); err != nil {
			fmt.Fprintln(os.Stderr, "scale holder:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// scaleHolder runs in the re-executed binary: spec is "links,mounts".
func scaleHolder(spec string) error {
	var links, mounts int
	if _, err := fmt.Sscanf(spec, "%d,%d", &links, &mounts); err != nil {
		return fmt.Errorf("spec %q: %w", spec, err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	// One third of the interfaces are bridges with an address (so that
	// routes grow too), two thirds veth pairs.
	bridges := links / 3
	for i := range bridges {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("dpsbr%d", i)}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("add bridge: %w", err)
		}
		addr, _ := netlink.ParseAddr(fmt.Sprintf("10.%d.%d.1/24", 100+i/256, i%256))
		if err := netlink.AddrAdd(br, addr); err != nil {
			return fmt.Errorf("add address: %w", err)
		}
		if err := netlink.LinkSetUp(br); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
	}
	for i := 0; i < (links-bridges)/2; i++ {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("dpsv%d", i)}, PeerName: fmt.Sprintf("dpsv%dp", i)}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("add veth: %w", err)
		}
	}
	base, err := os.MkdirTemp("", "dpscale")
	if err != nil {
		return err
	}
	if err := unix.Mount("dpscale", base, "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	src := base + "/src"
	if err := os.Mkdir(src, 0o755); err != nil {
		return err
	}
	for i := range mounts {
		dir := base + "/" + strconv.Itoa(i)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(src, dir, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount %d: %w", i, err)
		}
	}
	fmt.Println("ready")
	// Hold the namespaces until the benchmark closes our stdin.
	bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}

// startScaleHolder starts the holder with links interfaces and mounts
// mounts and returns its pid once they all exist.
func startScaleHolder(b *testing.B, links, mounts int) int {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", scaleHolderEnv, links, mounts))
	// No Pdeathsig: it fires when the forking thread ends, and Collect ends
	// threads (netif's locked goroutines). The holder ends on stdin EOF,
	// which also comes if this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start holder: %v", err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("holder did not get ready: %q %v", line, err)
	}
	return cmd.Process.Pid
}

// startSleepers starts n sleep processes, killed at cleanup (and ending by
// themselves within ten minutes should this process die first).
func startSleepers(b *testing.B, n int) {
	b.Helper()
	procs := make([]*exec.Cmd, 0, n)
	b.Cleanup(func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	})
	for range n {
		c := exec.Command("sleep", "600")
		if err := c.Start(); err != nil {
			b.Fatalf("start sleep: %v", err)
		}
		procs = append(procs, c)
	}
}

// BenchmarkCollectScale reports ns/op at a quarter, half and the whole of
// 1,000 interfaces, 10,000 mounts and 2,000 processes, with the counts the
// report saw as extra metrics.
func BenchmarkCollectScale(b *testing.B) {
	if os.Getenv("DOCKPROBE_SCALE") != "1" {
		b.Skip("set DOCKPROBE_SCALE=1 (as root) to run: it creates 1,000 interfaces, 10,000 mounts and 2,000 processes")
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network and mount namespaces")
	}
	for _, frac := range []int{1, 2, 4} { // quarters
		links, mounts, procs := 1000*frac/4, 10000*frac/4, 2000*frac/4
		b.Run(fmt.Sprintf("links=%d/mounts=%d/procs=%d", links, mounts, procs), func(b *testing.B) {
			pid := startScaleHolder(b, links, mounts)
			startSleepers(b, procs)
			var rep *probev1.Report
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				rep = Collect(context.Background(), Options{TargetPID: int32(pid), Hint: &probev1.TargetHint{DockerRootDir: "/var/lib/docker"}})
			}
			b.StopTimer()
			// CPU time (user+system, all threads) per collection: on a
			// shared machine the wall time also holds waiting for a core.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			for _, e := range rep.GetErrors() {
				b.Errorf("section %s: %s", e.GetSection(), e.GetMessage())
			}
			b.ReportMetric(float64(len(rep.GetInterfaces())), "interfaces")
			b.ReportMetric(float64(len(rep.GetMounts())), "mounts")
			b.ReportMetric(float64(len(rep.GetRoutes())), "routes")
			b.ReportMetric(float64(countPIDs()), "host-pids")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func countPIDs() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}
