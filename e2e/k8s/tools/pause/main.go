// Command pause is the test cluster's pod sandbox (what registry.k8s.io/pause
// is on a real node) and the e2e tests' workload image: a static program with
// no shell, built locally because nothing here may come from a registry.
//
//	pause              wait until SIGTERM or SIGINT, then exit 0 (the sandbox, and a pod's main process)
//	pause echo         copy stdin to stdout until EOF (proves kubectl exec -i carries both ways)
//	pause comm PID     print /proc/PID/comm (proves hostPID: the node's kubelet is visible)
//
// As a sandbox it is PID 1 of the pod's PID namespace, so it also reaps
// orphans, as the real pause does.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		wait()
		return
	}
	switch os.Args[1] {
	case "echo":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail("echo: %v", err)
		}
	case "comm":
		if len(os.Args) != 3 {
			fail("usage: pause comm PID")
		}
		if _, err := strconv.Atoi(os.Args[2]); err != nil {
			fail("comm: PID %q is not a number", os.Args[2])
		}
		b, err := os.ReadFile("/proc/" + os.Args[2] + "/comm")
		if err != nil {
			fail("comm: %v", err)
		}
		fmt.Println(strings.TrimSpace(string(b)))
	default:
		fail("unknown mode %q (want no argument, echo or comm PID)", os.Args[1])
	}
}

func wait() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	child := make(chan os.Signal, 1)
	signal.Notify(child, syscall.SIGCHLD)
	for {
		select {
		case <-sig:
			return
		case <-child:
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pause: "+format+"\n", a...)
	os.Exit(2)
}
