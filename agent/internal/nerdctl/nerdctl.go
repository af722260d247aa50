// Package nerdctl runs the probe on a containerd host through the nerdctl
// command (Rancher Desktop in containerd mode, Lima, Finch, colima, a plain
// containerd); its Launcher is the nerdctl runtime's launcher.Launcher. It
// reads the engine's facts from `nerdctl version`, `info` and `network
// inspect`, loads the probe image with `nerdctl load` from the agent's
// in-memory archive (never pulling), runs the probe with `nerdctl run -i
// --rm` and the same least-privilege settings as the Docker launcher,
// speaking gRPC over the nerdctl process's stdin and stdout, guards it with
// a watchdog shell and sweeps what dead runs left.
//
// It shells out rather than importing containerd's client: the same code
// then works with Rancher Desktop's nerdctl.exe on Windows, which tunnels
// into its VM. It does not choose between Docker and nerdctl (the cli
// package does) and does not render reports.
package nerdctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Errors of the nerdctl runtime.
var (
	// ErrNotInstalled means no nerdctl binary was found.
	ErrNotInstalled = errors.New("nerdctl is not installed")
	// ErrCommand wraps a nerdctl invocation that failed; the message
	// quotes its stderr.
	ErrCommand = errors.New("nerdctl failed")
)

// DefaultBinary is the command looked up on PATH.
const DefaultBinary = "nerdctl"

// Client runs nerdctl with a fixed set of global options.
type Client struct {
	// Path is the nerdctl binary.
	Path string
	// Address is containerd's address (--address); empty leaves nerdctl's
	// own default (CONTAINERD_ADDRESS, nerdctl.toml, the system socket).
	Address string
	// Namespace is the containerd namespace (--namespace); empty is
	// nerdctl's default.
	Namespace string
}

// Find looks the nerdctl binary up: path when given, else nerdctl on PATH.
func Find(path string) (string, error) {
	if path == "" {
		path = DefaultBinary
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	return p, nil
}

// Args is nerdctl's command line for one subcommand: the global options
// first, as nerdctl wants them.
func (c *Client) Args(sub ...string) []string {
	var a []string
	if c.Address != "" {
		a = append(a, "--address", c.Address)
	}
	if c.Namespace != "" {
		a = append(a, "--namespace", c.Namespace)
	}
	return append(a, sub...)
}

// Describe is the endpoint for people and for Engine.host: the address, or
// "nerdctl default".
func (c *Client) Describe() string {
	s := "nerdctl"
	if c.Address != "" {
		s += " --address " + c.Address
	}
	if c.Namespace != "" {
		s += " --namespace " + c.Namespace
	}
	return s
}

// run runs one nerdctl command to completion and returns its stdout; a
// failure's error quotes the last line of stderr, where nerdctl says why.
func (c *Client) run(ctx context.Context, stdin io.Reader, sub ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args(sub...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("nerdctl %s: %w", sub[0], ctxErr)
		}
		return nil, fmt.Errorf("%w: nerdctl %s: %w: %s", ErrCommand, strings.Join(sub, " "), err, lastLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// lastLine is the last non-empty line of nerdctl's stderr, without
// logrus's "time=... level=fatal msg=" decoration.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if _, msg, ok := strings.Cut(l, " msg="); ok && strings.HasPrefix(l, "time=") {
			l = strings.Trim(msg, `"`)
			l = strings.ReplaceAll(l, `\n`, " ")
			l = strings.ReplaceAll(l, `\"`, `"`)
		}
		return l
	}
	return "(no error message)"
}
