// Command hog is the e2e tests' container workload for issue 13: `hog
// eat` touches memory until the kernel kills it (a container run under a
// 16 MiB limit is then OOMKilled); `hog sleep` waits until stopped (a
// running container that bind-mounts a drive share). Static, so a FROM
// scratch image made with `docker import` runs it; no registry.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hog eat|sleep")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "eat":
		var chunks [][]byte
		for i := 0; i < 1024; i++ { // at most 1 GiB, far past any test limit
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			chunks = append(chunks, b)
		}
		fmt.Println("hog: still alive after", len(chunks), "MiB: no memory limit?")
		os.Exit(1)
	case "sleep":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		select {
		case <-c:
		case <-time.After(10 * time.Minute):
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: hog eat|sleep")
		os.Exit(2)
	}
}
