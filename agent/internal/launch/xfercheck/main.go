// Command xfercheck pushes random bytes through a real container attach
// stream with the agent's own launch and transport code, against an echo
// image, and prints what it sent and got back (sizes and SHA-256) as JSON.
// The e2e suite builds and runs it (e2e/reliability_test.go); it is a test
// tool, not shipped.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/launcher"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
)

type result struct {
	Container string  `json:"container"`
	Sent      int64   `json:"sent"`
	Received  int64   `json:"received"`
	SentSHA   string  `json:"sentSha256"`
	RecvSHA   string  `json:"receivedSha256"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error,omitempty"`
}

func main() {
	image := flag.String("image", "", "echo image (copies stdin to stdout)")
	mib := flag.Int("mib", 64, "MiB to send")
	flag.Parse()
	res, err := run(*image, int64(*mib)<<20)
	if err != nil {
		res.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		os.Exit(1)
	}
}

// special are the bytes an attach stream must never interpret: the
// default detach keys (ctrl-p ctrl-q are 0x10 0x11) and line endings.
var special = []byte{0x10, 0x11, 0x0d, 0x0a, 0x10, 0x11, 0x00, 0xff}

func run(image string, size int64) (result, error) {
	var res result
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return res, err
	}
	defer api.Close()
	s, err := launch.Launch(ctx, api, launch.Options{
		Image:   &probeimage.Image{Ref: image},
		Options: launcher.Options{Version: "xfercheck", Deadline: 2 * time.Minute, ProbeLog: os.Stderr},
	})
	if err != nil {
		return res, err
	}
	defer s.Abort()
	res.Container = s.Name
	conn := s.Conn()
	start := time.Now()

	sent := sha256.New()
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		var n int64
		for n < size {
			chunk := buf[:min(int64(len(buf)), size-n)]
			rand.Read(chunk)
			// Every chunk carries the special bytes, also across
			// frame boundaries (the copy sees arbitrary splits).
			for i := 0; i+len(special) <= len(chunk); i += 4093 {
				copy(chunk[i:], special)
			}
			sent.Write(chunk)
			if _, err := conn.Write(chunk); err != nil {
				errc <- fmt.Errorf("write: %w", err)
				return
			}
			n += int64(len(chunk))
		}
		res.Sent = n
		errc <- nil
	}()
	got := sha256.New()
	n, rerr := io.CopyN(got, conn, size)
	res.Received = n
	werr := <-errc
	res.Seconds = time.Since(start).Seconds()
	res.SentSHA = hex.EncodeToString(sent.Sum(nil))
	res.RecvSHA = hex.EncodeToString(got.Sum(nil))
	if werr != nil {
		return res, werr
	}
	if rerr != nil {
		return res, fmt.Errorf("read back: %w", rerr)
	}
	return res, nil
}
