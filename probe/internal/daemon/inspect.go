package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// IsDockerd reports whether p is a dockerd: by its kernel name, or by
// argv[0] for one started under another file name.
//
// A dockerd without a command line (a zombie, or one exiting while the scan
// reads it) is not one: its data-root cannot be known, and counting it with
// the default would match the engine's /var/lib/docker by accident.
func IsDockerd(p procs.Process) bool {
	return len(p.Argv) > 0 && (p.Comm == "dockerd" || procs.Base(p.Argv) == "dockerd")
}

// InspectAll inspects every dockerd among scanned, in scan order. A
// dockerd whose parent is a dockerd with the very same command line is
// skipped: it is a fork that has not yet exec'd (dockerd re-executes itself
// for helpers), and counting it would give the engine's data-root and
// containerd address two owners, so neither could be told from the other.
// Seen only while many containers start at once.
func InspectAll(fsys *hostfs.FS, scanned []procs.Process) []*probev1.Daemon {
	argv := map[int][]string{}
	for _, p := range scanned {
		if IsDockerd(p) {
			argv[p.PID] = p.Argv
		}
	}
	var out []*probev1.Daemon
	for _, p := range scanned {
		if !IsDockerd(p) {
			continue
		}
		if parent, ok := argv[p.PPID]; ok && slices.Equal(parent, p.Argv) {
			continue
		}
		out = append(out, Inspect(fsys, p, scanned))
	}
	return out
}

// Inspect builds the Daemon record of the dockerd process p, reading its
// daemon.json inside p's own root (a dockerd in a container reads its
// container's /etc/docker). all is every process the scan kept, used to
// find a containerd that p supervises. Problems with the config file are
// recorded in ConfigError rather than returned: the rest of the record
// stands without it.
func Inspect(fsys *hostfs.FS, p procs.Process, all []procs.Process) *probev1.Daemon {
	d := &probev1.Daemon{Found: true, Pid: int32(p.PID), Argv: p.Argv}
	if exe, err := fsys.Readlink(p.PID, "exe"); err == nil {
		d.Executable = exe
	}
	var args []string
	if len(p.Argv) > 1 {
		args = p.Argv[1:]
	}
	d.Flags, _ = ParseArgs(args)
	d.ConfigFile, d.ConfigFileSource = ConfigFile(d.Flags)
	readConfig(fsys, p.PID, d)

	s := Resolve(d.Flags, d.Config)
	d.DataRoot, d.ExecRoot, d.Pidfile, d.Hosts = s.DataRoot, s.ExecRoot, s.Pidfile, s.Hosts
	d.ContainerdAddress = s.ContainerdAddress
	if d.ContainerdAddress == "" {
		d.ContainerdAddress = impliedContainerd(p.PID, s.ExecRoot, all)
	}
	return d
}

// readConfig fills the config fields of d from its daemon.json.
func readConfig(fsys *hostfs.FS, pid int, d *probev1.Daemon) {
	b, ok := ReadConfigFile(fsys, pid, d, "dockerd", "--config-file", MaxConfigSize)
	if !ok {
		return
	}
	val, err := ParseConfig(bytes.NewReader(b))
	d.Config = val
	if err != nil {
		d.ConfigError = fmt.Sprintf("%s: %v", d.ConfigFile, err)
		if val == nil {
			d.ConfigRaw = strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
}

// ReadConfigFile reads d.ConfigFile, at most max bytes, inside the root of
// the daemon pid (named who, its config flag flag) and records what stands
// in the way in d: a relative path (the probe does not read the daemon's
// working directory), a file too large, a read error, or a missing file
// that the flag named (a missing default file is the common case and no
// error). ok says the bytes were read; d.ConfigFileExists is set then and
// for a file too large.
func ReadConfigFile(fsys *hostfs.FS, pid int, d *probev1.Daemon, who, flag string, max int64) (b []byte, ok bool) {
	if !path.IsAbs(d.ConfigFile) {
		d.ConfigError = fmt.Sprintf("config file %q is relative to %s's working directory, which the probe does not read", d.ConfigFile, who)
		return nil, false
	}
	b, err := fsys.ReadInRoot(pid, d.ConfigFile, max)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if d.ConfigFileSource == SourceFlag {
			d.ConfigError = fmt.Sprintf("%s, given by %s, does not exist", d.ConfigFile, flag)
		}
		return nil, false
	case errors.Is(err, hostfs.ErrTooLarge):
		d.ConfigFileExists = true
		d.ConfigError = fmt.Sprintf("%s is larger than %d bytes; not read", d.ConfigFile, max)
		return nil, false
	case err != nil:
		d.ConfigError = err.Error()
		return nil, false
	}
	d.ConfigFileExists = true
	return b, true
}

// impliedContainerd is the containerd a dockerd without --containerd talks
// to: the one it started itself (a child named containerd, listening under
// exec-root unless told otherwise), else the system one.
func impliedContainerd(pid int, execRoot string, all []procs.Process) string {
	for _, c := range all {
		if c.PPID != pid || c.Comm != "containerd" {
			continue
		}
		if addr := flagValue(c.Argv, "address", "a"); addr != "" {
			return addr
		}
		return path.Join(execRoot, "containerd", "containerd.sock")
	}
	return SystemContainerd
}

// ShimAddress returns the containerd address a containerd-shim was started
// with ("-address /run/containerd/containerd.sock"), or "".
func ShimAddress(argv []string) string {
	return flagValue(argv, "address")
}

// flagValue finds a Go-flag-style "-name value", "--name value" or
// "-name=value" in argv.
func flagValue(argv []string, names ...string) string {
	for i := 1; i < len(argv); i++ {
		a := strings.TrimPrefix(argv[i], "-")
		if a == argv[i] {
			continue
		}
		a = strings.TrimPrefix(a, "-")
		name, value, hasValue := strings.Cut(a, "=")
		for _, n := range names {
			if name != n {
				continue
			}
			if hasValue {
				return value
			}
			if i+1 < len(argv) {
				return argv[i+1]
			}
		}
	}
	return ""
}

// ParentShimAddress returns the containerd address of the containerd-shim
// that is the parent of process self (the probe's own container), or "" when
// the parent is not a shim. scanned is the scan's result, consulted first.
func ParentShimAddress(fsys *hostfs.FS, self int, scanned []procs.Process) string {
	me, err := procs.Read(fsys, self)
	if err != nil || me.PPID <= 0 {
		return ""
	}
	parent, found := procs.Process{}, false
	for _, p := range scanned {
		if p.PID == me.PPID {
			parent, found = p, true
			break
		}
	}
	if !found {
		if parent, err = procs.Read(fsys, me.PPID); err != nil {
			return ""
		}
	}
	if !strings.HasPrefix(parent.Comm, "containerd-shim") && !strings.HasPrefix(procs.Base(parent.Argv), "containerd-shim") {
		return ""
	}
	return ShimAddress(parent.Argv)
}
