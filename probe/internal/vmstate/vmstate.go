// Package vmstate reads the VM's own state for the issue 13 checks: the
// filesystem that holds dockerd's data-root (statfs only, nothing is
// walked), the IP forwarding switches of dockerd's network namespace, and
// the VM's memory and OOM kill counter. Every read goes through hostfs's
// allowlists; nothing here reads a process's files.
package vmstate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrParse is wrapped by the parsers' errors.
var ErrParse = errors.New("parse")

// DefaultDataRoot is dockerd's data-root when no flag or key sets it.
const DefaultDataRoot = "/var/lib/docker"

// Collect reads the whole VmState of pid's namespaces; dataRoot is
// dockerd's data-root ("" for the default). Each part carries its own
// error, so the returned error only summarises.
func Collect(fsys *hostfs.FS, pid int, dataRoot string) (*probev1.VmState, error) {
	if dataRoot == "" {
		dataRoot = DefaultDataRoot
	}
	dr, drErr := dataRootFS(fsys, pid, dataRoot)
	vs := &probev1.VmState{
		DataRoot:   dr,
		Forwarding: Forwarding(fsys, pid),
		Memory:     Memory(fsys),
	}
	var errs []string
	// A data-root that does not exist is a fact (a containerd host whose
	// root is elsewhere), said in dataRoot.error; not a failed section.
	if drErr != nil && !errors.Is(drErr, fs.ErrNotExist) {
		errs = append(errs, "data-root: "+drErr.Error())
	}
	for _, p := range []struct{ what, err string }{{"forwarding", vs.Forwarding.GetError()}, {"memory", vs.Memory.GetError()}} {
		if p.err != "" {
			errs = append(errs, p.what+": "+p.err)
		}
	}
	if len(errs) > 0 {
		return vs, errors.New(strings.Join(errs, "; "))
	}
	return vs, nil
}

// DataRoot is statfs of path in pid's mount namespace.
func DataRoot(fsys *hostfs.FS, pid int, path string) *probev1.Filesystem {
	f, _ := dataRootFS(fsys, pid, path)
	return f
}

func dataRootFS(fsys *hostfs.FS, pid int, path string) (*probev1.Filesystem, error) {
	f := &probev1.Filesystem{Path: path}
	st, err := fsys.StatfsInRoot(pid, path)
	if err != nil {
		f.Error = err.Error()
		return f, err
	}
	f.TotalBytes, f.FreeBytes, f.AvailableBytes = float64(st.Total), float64(st.Free), float64(st.Avail)
	f.TotalInodes, f.FreeInodes = float64(st.Files), float64(st.FilesFree)
	return f, nil
}

// Forwarding reads the forwarding sysctls of pid's network namespace.
func Forwarding(fsys *hostfs.FS, pid int) *probev1.Forwarding {
	m, err := fsys.ReadNetSysctls(pid)
	f := &probev1.Forwarding{
		Ipv4: m["net/ipv4/ip_forward"],
		Ipv6: m["net/ipv6/conf/all/forwarding"],
	}
	d, ok := m["net/ipv6/conf/all/disable_ipv6"]
	f.Ipv6Enabled = ok && d == "0"
	if err != nil {
		f.Error = err.Error()
	}
	return f
}

// Memory reads /proc/meminfo and /proc/vmstat.
func Memory(fsys *hostfs.FS) *probev1.Memory {
	m := &probev1.Memory{OomKills: -1}
	var errs []string
	if b, err := fsys.ReadGlobal("meminfo"); err != nil {
		errs = append(errs, err.Error())
	} else if kv, err := ParseKeyValues(strings.NewReader(string(b)), ':'); err != nil {
		errs = append(errs, "meminfo: "+err.Error())
	} else {
		m.TotalBytes = float64(kv["MemTotal"]) * 1024
		m.AvailableBytes = float64(kv["MemAvailable"]) * 1024
	}
	if b, err := fsys.ReadGlobal("vmstat"); err != nil {
		errs = append(errs, err.Error())
	} else if kv, err := ParseKeyValues(strings.NewReader(string(b)), ' '); err != nil {
		errs = append(errs, "vmstat: "+err.Error())
	} else if n, ok := kv["oom_kill"]; ok {
		m.OomKills = float64(n)
	}
	m.Error = strings.Join(errs, "; ")
	return m
}

// ParseKeyValues parses "Key<sep> value [unit]" lines, as /proc/meminfo
// (sep ':', values in kB) and /proc/vmstat (sep ' ') write them. A line
// that does not fit is an error quoting it.
func ParseKeyValues(r io.Reader, sep byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, rest, ok := strings.Cut(line, string(sep))
		fields := strings.Fields(rest)
		if !ok || k == "" || len(fields) == 0 {
			return out, fmt.Errorf("%w: line %q", ErrParse, line)
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return out, fmt.Errorf("%w: line %q: %w", ErrParse, line, err)
		}
		out[strings.TrimSpace(k)] = n
	}
	return out, sc.Err()
}
