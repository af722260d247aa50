// Package containerd describes a containerd daemon for the probe when no
// dockerd serves the engine (Rancher Desktop in containerd mode, Lima,
// Finch, colima): its command-line flags, its config.toml (kept as text and
// parsed into key values), and the settings they decide together (root,
// state, gRPC address). It also reads the CNI networks nerdctl and k3s keep
// in /etc/cni/net.d.
//
// Parsers take io.Reader and never panic; reading files goes through
// hostfs only, inside the daemon's own root. It does not choose the target
// (the daemon package does).
package containerd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// containerd's defaults on Linux.
const (
	DefaultConfigFile = "/etc/containerd/config.toml"
	DefaultRoot       = "/var/lib/containerd"
	DefaultState      = "/run/containerd"
	DefaultAddress    = "/run/containerd/containerd.sock"
	// MaxConfigSize bounds config.toml; real ones are a few kilobytes.
	MaxConfigSize = 1 << 20
)

// ErrConfig is wrapped by every config.toml parse failure.
var ErrConfig = errors.New("invalid containerd config")

// flagAliases maps containerd's short flags to their long names.
var flagAliases = map[string]string{"c": "config", "l": "log-level", "a": "address"}

// boolFlags are containerd's flags that take no value.
var boolFlags = map[string]bool{"help": true, "h": true, "version": true, "v": true}

// ParseArgs parses containerd's arguments (without argv[0]) the way its
// CLI library does: "--name value", "--name=value", "-c value"; short
// names are reported by their long name. Positional arguments (a
// subcommand such as "config dump") end the flags.
func ParseArgs(args []string) []*probev1.Flag {
	var flags []*probev1.Flag
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "" {
			break
		}
		if long, ok := flagAliases[name]; ok {
			name = long
		}
		if !hasValue && !boolFlags[name] && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value, hasValue = args[i+1], true
			i++
		}
		flags = append(flags, &probev1.Flag{Name: name, Value: value, HasValue: hasValue})
	}
	return flags
}

// FlagValue is the value of the last occurrence of a flag, by long name.
func FlagValue(flags []*probev1.Flag, name string) string {
	for i := len(flags) - 1; i >= 0; i-- {
		if flags[i].GetName() == name && flags[i].GetHasValue() {
			return flags[i].GetValue()
		}
	}
	return ""
}

// ParseConfig parses config.toml into a JSON-like value (tables become
// objects; dates and times become their TOML text). The error quotes the
// offending line.
func ParseConfig(r io.Reader) (*structpb.Value, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read containerd config: %w", err)
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrConfig, MaxConfigSize)
	}
	var doc map[string]any
	if err := toml.Unmarshal(b, &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%w: line %d column %d: %s (line %q)", ErrConfig, row, col, de.Error(), line(b, row))
		}
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	v, err := structpb.NewValue(jsonable(doc))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return v, nil
}

// jsonable turns TOML's decoded types into ones structpb accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonable(e)
		}
		return out
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		return fmt.Sprint(t)
	case int64:
		// structpb keeps numbers as float64; beyond 2^53 that loses
		// digits, so big ones stay exact as text.
		if t > 1<<53 || t < -(1<<53) {
			return fmt.Sprint(t)
		}
		return t
	}
	return v
}

func line(b []byte, n int) string {
	lines := bytes.Split(b, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	l := string(lines[n-1])
	if len(l) > 120 {
		l = l[:120] + "..."
	}
	return strings.ToValidUTF8(l, "\uFFFD")
}

// Settings are what containerd's flags and config decide together.
type Settings struct {
	ConfigFile       string
	ConfigFileSource string // flag or default
	Root             string
	State            string
	Address          string
}

// ConfigFile is the config file a containerd with these flags reads.
func ConfigFile(flags []*probev1.Flag) (file, source string) {
	if v := FlagValue(flags, "config"); v != "" {
		return v, daemon.SourceFlag
	}
	return DefaultConfigFile, "default"
}

// Resolve derives root, state and address: a flag wins, then the config
// key, then containerd's default. config may be nil.
//
// The gRPC address's key moved in containerd 2.3 (config version 4): from
// [grpc] address to plugins."io.containerd.server.v1.grpc".address. A
// version 4 config ignores [grpc]; an older one is migrated, where a grpc
// plugin table, if present, wins over [grpc] (containerd's serviceMigrate).
func Resolve(flags []*probev1.Flag, config *structpb.Value) Settings {
	s := Settings{}
	s.ConfigFile, s.ConfigFileSource = ConfigFile(flags)
	cfg := config.GetStructValue()
	pick := func(flag, def string, keys ...[]string) string {
		if v := FlagValue(flags, flag); v != "" {
			return v
		}
		for _, k := range keys {
			if v := stringAt(cfg, k...); v != "" {
				return v
			}
		}
		return def
	}
	s.Root = pick("root", DefaultRoot, []string{"root"})
	s.State = pick("state", DefaultState, []string{"state"})
	addressKeys := [][]string{{"plugins", GRPCServerPlugin, "address"}}
	if configVersion(cfg) < 4 {
		addressKeys = append(addressKeys, []string{"grpc", "address"})
	}
	s.Address = pick("address", DefaultAddress, addressKeys...)
	return s
}

// GRPCServerPlugin is the plugin that owns the gRPC listener since
// containerd 2.3 (config version 4).
const GRPCServerPlugin = "io.containerd.server.v1.grpc"

// stringAt is the string at the path of table keys, or "".
func stringAt(v *structpb.Struct, keys ...string) string {
	for i, k := range keys {
		f, ok := v.GetFields()[k]
		if !ok {
			return ""
		}
		if i == len(keys)-1 {
			return f.GetStringValue()
		}
		v = f.GetStructValue()
	}
	return ""
}

// configVersion is the config's version key; containerd reads a config
// without one as version 1.
func configVersion(v *structpb.Struct) int {
	f, ok := v.GetFields()["version"]
	if !ok {
		return 1
	}
	return int(f.GetNumberValue())
}
