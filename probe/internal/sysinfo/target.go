package sysinfo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Target describes pid's system: host name and kernel release from its UTS
// namespace, os-release from its root, its namespaces and comm. It fills
// what it can; the error joins what failed.
func Target(fsys *hostfs.FS, pid int) (*probev1.Target, error) {
	t := &probev1.Target{Pid: int32(pid)}
	var errs []error
	if b, err := fsys.ReadProcFile(pid, "comm"); err == nil {
		t.Comm = strings.TrimSuffix(string(b), "\n")
	} else {
		errs = append(errs, err)
	}
	if u, err := UTS(fsys, pid); err == nil {
		t.Hostname, t.KernelRelease = u.Hostname, u.Release
	} else {
		errs = append(errs, err)
	}
	osr, err := OSRelease(fsys, pid)
	if len(osr) > 0 {
		t.OsRelease = osr
		t.OsPrettyName = PrettyName(osr)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("os-release of pid %d: %w", pid, err))
	}
	ns, err := fsys.NamespaceIDs(pid)
	if len(ns) > 0 {
		t.Namespaces = ns
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("namespaces of pid %d: %w", pid, err))
	}
	return t, errors.Join(errs...)
}

// PrettyName is PRETTY_NAME, or what os-release(5) says to fall back to.
func PrettyName(osr map[string]string) string {
	if v := osr["PRETTY_NAME"]; v != "" {
		return v
	}
	if name := osr["NAME"]; name != "" {
		if v := osr["VERSION"]; v != "" {
			return name + " " + v
		}
		return name
	}
	return "Linux"
}

// UTSInfo is what uname(2) says inside a UTS namespace.
type UTSInfo struct {
	Hostname string
	Release  string
}

// maxEtcFile caps the probe's own /etc files.
const maxEtcFile = 1 << 20

// Container describes the probe's own container: /etc/hosts, resolv.conf
// and hostname under selfRoot ("/" in production), and the effective
// capabilities of process self. It fills what it can; the error joins what
// failed. A missing file is not an error (network none has no resolv.conf
// entries to speak of).
func Container(selfRoot string, fsys *hostfs.FS, self int) (*probev1.ProbeContainer, error) {
	if selfRoot == "" {
		selfRoot = "/"
	}
	c := &probev1.ProbeContainer{}
	var errs []error
	read := func(name string, parse func(io.Reader) error) {
		f, err := os.Open(filepath.Join(selfRoot, name))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		defer f.Close()
		if err := parse(io.LimitReader(f, maxEtcFile)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	read("etc/hosts", func(r io.Reader) (err error) {
		c.EtcHosts, err = ParseHosts(r)
		return err
	})
	read("etc/resolv.conf", func(r io.Reader) error {
		rc, err := ParseResolvConf(r)
		c.Nameservers, c.Search = rc.Nameservers, rc.Search
		return err
	})
	read("etc/hostname", func(r io.Reader) error {
		b, err := io.ReadAll(r)
		c.Hostname = strings.TrimSpace(string(b))
		return err
	})
	if c.Hostname == "" && filepath.Clean(selfRoot) == "/" {
		c.Hostname, _ = os.Hostname()
	}
	if b, err := fsys.ReadProcFile(self, "status"); err != nil {
		errs = append(errs, err)
	} else if c.Capabilities, err = ParseCapabilities(strings.NewReader(string(b))); err != nil {
		errs = append(errs, fmt.Errorf("status of pid %d: %w", self, err))
	}
	return c, errors.Join(errs...)
}
