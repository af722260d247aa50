package containerd

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// IsContainerd reports whether p is a containerd daemon (not one of its
// shims, whose comm is "containerd-shim" truncated).
func IsContainerd(p procs.Process) bool {
	return p.Comm == "containerd" || (procs.Base(p.Argv) == "containerd" && !strings.HasPrefix(p.Comm, "containerd-"))
}

// Inspect builds the Daemon record of the containerd process p, in the
// same fields a dockerd's goes: executable, argv, flags, the config file
// (read inside p's own root) as text in config_raw and parsed into config,
// root as data_root, state as exec_root, and its gRPC address as
// containerd_address. Config problems go to config_error; the record
// stands without them.
func Inspect(fsys *hostfs.FS, p procs.Process) *probev1.Daemon {
	d := &probev1.Daemon{Found: true, Pid: int32(p.PID), Argv: p.Argv}
	if exe, err := fsys.Readlink(p.PID, "exe"); err == nil {
		d.Executable = exe
	}
	if len(p.Argv) > 1 {
		d.Flags = ParseArgs(p.Argv[1:])
	}
	d.ConfigFile, d.ConfigFileSource = ConfigFile(d.Flags)
	readConfig(fsys, p.PID, d)
	s := Resolve(d.Flags, d.Config)
	d.DataRoot, d.ExecRoot, d.ContainerdAddress = s.Root, s.State, s.Address
	d.Hosts = []string{"unix://" + strings.TrimPrefix(s.Address, "unix://")}
	return d
}

func readConfig(fsys *hostfs.FS, pid int, d *probev1.Daemon) {
	b, ok := daemon.ReadConfigFile(fsys, pid, d, "containerd", "--config", MaxConfigSize)
	if !ok {
		return
	}
	// TOML is not JSON: the text is always kept (credentials masked), and
	// the parsed keys too.
	d.ConfigRaw = MaskSecrets(strings.ToValidUTF8(string(b), "\uFFFD"))
	val, err := ParseConfig(bytes.NewReader(b))
	if err != nil {
		d.ConfigError = fmt.Sprintf("%s: %v", d.ConfigFile, err)
		return
	}
	MaskValue(val)
	d.Config = val
}
