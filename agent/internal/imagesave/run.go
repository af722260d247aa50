package imagesave

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
	"github.com/dockprobe/dockprobe/internal/version"
)

// ErrUsage marks a bad `agent image` command line (the CLI's exit 2).
var ErrUsage = errors.New("usage")

const usage = `usage:
  agent image save -o FILE [--arch amd64|arm64]   the probe image as an archive for a node:
                                                  ctr -n k8s.io images import FILE, or docker load -i FILE
  agent image push REF [--arch amd64|arm64]       the probe image to a registry you control
                                                  (every architecture this agent carries by default);
                                                  then: agent probe --runtime kubernetes --image REF`

// RunImage is `agent image ...` (args after "image"): the CLI wiring is a
// command that passes its arguments here.
func RunImage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", ErrUsage, usage)
	}
	fs := flag.NewFlagSet("image "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "", "the archive to write (- for stdout)")
	fs.StringVar(out, "output", "", "the archive to write (- for stdout)")
	arch := fs.String("arch", "", "the nodes' architecture: amd64 or arm64")
	parse := func() error {
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%w: %w\n%s", ErrUsage, err, usage)
		}
		return nil
	}
	switch args[0] {
	case "save":
		if err := parse(); err != nil {
			return err
		}
		if *out == "" || fs.NArg() > 0 {
			return fmt.Errorf("%w: agent image save needs -o FILE and nothing else\n%s", ErrUsage, usage)
		}
		a := *arch
		if a == "" {
			a = runtime.GOARCH
		}
		p, err := Load(a, version.Version)
		if err != nil {
			return archError(err, a)
		}
		if err := saveTo(*out, p, stdout); err != nil {
			return err
		}
		if *out != "-" {
			fmt.Fprintf(stderr, "wrote %s (%s, linux/%s) to %s; on the node: ctr -n k8s.io images import %s (containerd) or docker load -i %s (dockerd)\n",
				p.Ref, "probe image", p.Arch, *out, filepath.Base(*out), filepath.Base(*out))
		}
		return nil
	case "push":
		// The reference may come before the flags.
		var ref string
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
			ref, args = args[1], append(args[:1:1], args[2:]...)
		}
		if err := parse(); err != nil {
			return err
		}
		if ref == "" && fs.NArg() == 1 {
			ref = fs.Arg(0)
		} else if fs.NArg() > 0 || ref == "" {
			return fmt.Errorf("%w: agent image push needs one REF\n%s", ErrUsage, usage)
		}
		arches := Arches
		if *arch != "" {
			arches = []string{*arch}
		}
		var probes []*Probe
		for _, a := range arches {
			p, err := Load(a, version.Version)
			if errors.Is(err, probeimage.ErrNoBinary) && *arch == "" {
				continue // push what this agent carries
			}
			if err != nil {
				return archError(err, a)
			}
			probes = append(probes, p)
		}
		digest, err := Push(ctx, ref, probes)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s@%s\n", ref, digest)
		fmt.Fprintf(stderr, "pushed the probe image for %s; use it with: agent probe --runtime kubernetes --image %s@%s\n", archList(probes), ref, digest)
		return nil
	}
	return fmt.Errorf("%w: unknown image command %q\n%s", ErrUsage, args[0], usage)
}

func archError(err error, arch string) error {
	if errors.Is(err, probeimage.ErrNoBinary) && arch != "amd64" && arch != "arm64" {
		return fmt.Errorf("%w: --arch %q: the probe exists for amd64 and arm64", ErrUsage, arch)
	}
	return err
}

func archList(ps []*Probe) string {
	var s []string
	for _, p := range ps {
		s = append(s, "linux/"+p.Arch)
	}
	return strings.Join(s, ", ")
}

// saveTo writes the archive to path (atomically: a reader never sees half
// an archive) or to stdout for "-".
func saveTo(path string, p *Probe, stdout io.Writer) error {
	if path == "-" {
		return Save(stdout, p.Image, p.Ref)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := Save(tmp, p.Image, p.Ref); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
