package daemon

import (
	"path"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// dockerd's defaults on Linux when it is not rootless.
const (
	DefaultConfigFile = "/etc/docker/daemon.json"
	DefaultDataRoot   = "/var/lib/docker"
	DefaultExecRoot   = "/var/run/docker"
	DefaultPidfile    = "/var/run/docker.pid"
	// SystemContainerd is where dockerd looks for a containerd it does not
	// supervise when --containerd is not given.
	SystemContainerd = "/run/containerd/containerd.sock"
)

// Where a setting came from.
const (
	SourceFlag    = "flag"
	SourceConfig  = "config"
	SourceDefault = "default"
)

// Settings are what dockerd's flags and daemon.json decide together.
type Settings struct {
	DataRoot string
	ExecRoot string
	// ContainerdAddress is the --containerd flag or "containerd" key; empty
	// when neither is set, in which case dockerd uses the system containerd
	// or starts its own under ExecRoot (see Inspect).
	ContainerdAddress string
	Hosts             []string
	Pidfile           string
}

// ConfigFile returns the daemon.json a dockerd with these flags reads, and
// whether it came from --config-file ("flag") or is the default.
func ConfigFile(flags []*probev1.Flag) (file, source string) {
	if v, ok := lastValue(flags, "config-file"); ok && v != "" {
		return v, SourceFlag
	}
	return DefaultConfigFile, SourceDefault
}

// Resolve derives dockerd's settings: a flag wins, then the config key, then
// dockerd's default. (dockerd refuses to start when one is set both ways, so
// for a running dockerd the order rarely matters.) config may be nil.
func Resolve(flags []*probev1.Flag, config *structpb.Value) Settings {
	var cfg map[string]*structpb.Value
	if s := config.GetStructValue(); s != nil {
		cfg = s.GetFields()
	}
	pick := func(def string, names []string, keys ...string) string {
		for _, n := range names {
			if v, ok := lastValue(flags, n); ok && v != "" {
				return v
			}
		}
		for _, k := range keys {
			if v, ok := cfg[k].GetKind().(*structpb.Value_StringValue); ok && v.StringValue != "" {
				return v.StringValue
			}
		}
		return def
	}
	s := Settings{
		// --graph/-g and the "graph" key are data-root's names before 17.05.
		DataRoot:          pick(DefaultDataRoot, []string{"data-root", "graph"}, "data-root", "graph"),
		ExecRoot:          pick(DefaultExecRoot, []string{"exec-root"}, "exec-root"),
		ContainerdAddress: pick("", []string{"containerd"}, "containerd"),
		Pidfile:           pick(DefaultPidfile, []string{"pidfile"}, "pidfile"),
	}
	for _, f := range flags {
		if Canonical(f.GetName()) == "host" && f.GetHasValue() {
			s.Hosts = append(s.Hosts, f.GetValue())
		}
	}
	if len(s.Hosts) == 0 {
		for _, h := range cfg["hosts"].GetListValue().GetValues() {
			if v, ok := h.GetKind().(*structpb.Value_StringValue); ok {
				s.Hosts = append(s.Hosts, v.StringValue)
			}
		}
	}
	return s
}

// lastValue returns the value of the last occurrence of a flag, by long
// name, as pflag keeps the last one for single-valued flags.
func lastValue(flags []*probev1.Flag, long string) (string, bool) {
	for i := len(flags) - 1; i >= 0; i-- {
		if f := flags[i]; Canonical(f.GetName()) == long && f.GetHasValue() {
			return f.GetValue(), true
		}
	}
	return "", false
}

// SamePath compares two absolute paths after cleaning; a relative path
// never matches, as it means nothing without the process's working
// directory. /var/run and /run are the same directory on every distribution
// the probe meets (one is a symlink to the other).
func SamePath(a, b string) bool {
	if !path.IsAbs(a) || !path.IsAbs(b) {
		return false
	}
	return normalizeRun(path.Clean(a)) == normalizeRun(path.Clean(b))
}

func normalizeRun(p string) string {
	if p == "/var/run" || strings.HasPrefix(p, "/var/run/") {
		return p[len("/var"):]
	}
	return p
}

// socketPath strips the unix:// scheme containerd addresses may carry.
func socketPath(addr string) string {
	return strings.TrimPrefix(addr, "unix://")
}
