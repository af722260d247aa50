// Package kubelet describes a node's kubelet for the probe: its
// command-line flags, its KubeletConfiguration file (--config, YAML,
// parsed into key values), and the settings they decide together (root
// directory, the container runtime endpoint it drives, its kubeconfig).
// It also chooses which kubelet is the node's when several run on one
// host (a test cluster with two nodes on one machine): the one whose
// runtime endpoint is the containerd that started the probe.
//
// Parsers take io.Reader or argv and never panic; reading files goes
// through hostfs only, inside the kubelet's own root. A kubelet embedded
// in another binary (k3s) has no kubelet command line: it is not found.
package kubelet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	"github.com/dockprobe/dockprobe/probe/internal/containerd"
	"github.com/dockprobe/dockprobe/probe/internal/daemon"
	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	"github.com/dockprobe/dockprobe/probe/internal/procs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// yamlLine finds the line number in a YAML parser's message.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// The kubelet's defaults on Linux.
const (
	DefaultRootDir = "/var/lib/kubelet"
	// MaxConfigSize bounds the config file; real ones are a few kilobytes.
	MaxConfigSize = 1 << 20
)

// ErrConfig is wrapped by every config file parse failure.
var ErrConfig = errors.New("invalid kubelet config")

// boolFlags are the kubelet's boolean flags (current and removed): they
// take no separate value ("--fail-swap-on --v 2" must not read "--v" as
// its value), though "--fail-swap-on=false" sets one.
var boolFlags = map[string]bool{
	"alsologtostderr": true, "cgroups-per-qos": true, "enable-controller-attach-detach": true,
	"enable-debugging-handlers": true, "enable-server": true, "exit-on-lock-contention": true,
	"fail-cgroupv1": true, "fail-swap-on": true, "help": true, "h": true, "keep-terminated-pod-volumes": true,
	"kernel-memcg-notification": true, "localstorage-capacity-isolation": true, "logtostderr": true,
	"make-iptables-util-chains": true, "one-output": true, "protect-kernel-defaults": true,
	"register-node": true, "register-schedulable": true, "rotate-certificates": true,
	"rotate-server-certificates": true, "serialize-image-pulls": true, "skip-headers": true,
	"skip-log-headers": true, "experimental-allocatable-ignore-eviction": true,
}

// ParseArgs parses the kubelet's arguments (without argv[0]) the way pflag
// does for it: "--name=value", "--name value", "-v 2"; boolean flags take
// no separate value. Repeated flags are kept in order. Arguments that are
// not flags are skipped (the kubelet accepts none).
func ParseArgs(args []string) []*probev1.Flag {
	var flags []*probev1.Flag
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "" {
			continue
		}
		if !hasValue && !boolFlags[name] && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value, hasValue = args[i+1], true
			i++
		}
		flags = append(flags, &probev1.Flag{Name: name, Value: value, HasValue: hasValue})
	}
	return flags
}

// IsKubelet reports whether p is a kubelet (by its kernel name, or by
// argv[0] for one started under another file name).
func IsKubelet(p procs.Process) bool {
	return len(p.Argv) > 0 && (p.Comm == "kubelet" || procs.Base(p.Argv) == "kubelet")
}

// ParseConfig parses a KubeletConfiguration (YAML or JSON) into a
// JSON-like value, credential keys masked (staticPodURLHeader may carry an
// Authorization header). The error quotes the offending line when YAML
// says which.
func ParseConfig(r io.Reader) (*structpb.Value, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read kubelet config: %w", err)
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrConfig, MaxConfigSize)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := firstLine(err.Error())
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > 0 {
				if lines := strings.Split(string(b), "\n"); n <= len(lines) {
					msg += fmt.Sprintf(" (line %q)", lines[n-1])
				}
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrConfig, msg)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: not a mapping of settings (got %s)", ErrConfig, kind(doc))
	}
	v, err := structpb.NewValue(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	maskSecrets(v)
	return v, nil
}

// secretKeys are the credential keys maskSecrets redacts, lower-cased.
// Not "authorization" or "authentication": in a KubeletConfiguration
// those are sections (webhook mode, client CA file), not credentials.
var secretKeys = map[string]bool{"token": true, "password": true, "secret": true, "bearertoken": true}

// maskSecrets replaces, in place, every credential value: all of
// staticPodURLHeader's header values (an Authorization header goes there)
// and any key named like a credential, at any depth.
func maskSecrets(v *structpb.Value) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StructValue:
		for key, f := range k.StructValue.GetFields() {
			switch {
			case key == "staticPodURLHeader":
				for h := range f.GetStructValue().GetFields() {
					f.GetStructValue().Fields[h] = structpb.NewStringValue("REDACTED")
				}
			case secretKeys[strings.ToLower(key)]:
				k.StructValue.Fields[key] = structpb.NewStringValue("REDACTED")
			default:
				maskSecrets(f)
			}
		}
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			maskSecrets(e)
		}
	}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "an empty document"
	case []any:
		return "a list"
	}
	return "a scalar"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Settings are what the flags and the config file decide together; a
// flag wins over the file, as in the kubelet.
type Settings struct {
	RootDir         string
	RuntimeEndpoint string
	Kubeconfig      string
}

// Resolve derives the settings from the flags and the parsed config.
func Resolve(flags []*probev1.Flag, config *structpb.Value) Settings {
	s := Settings{RootDir: DefaultRootDir}
	fields := config.GetStructValue().GetFields()
	if v := fields["containerRuntimeEndpoint"].GetStringValue(); v != "" {
		s.RuntimeEndpoint = v
	}
	if v := containerd.FlagValue(flags, "root-dir"); v != "" {
		s.RootDir = v
	}
	if v := containerd.FlagValue(flags, "container-runtime-endpoint"); v != "" {
		s.RuntimeEndpoint = v
	}
	s.Kubeconfig = containerd.FlagValue(flags, "kubeconfig")
	return s
}

// Inspect builds the kubelet's record in the Daemon message dockerd and
// containerd use: executable, argv, flags, the --config file (read inside
// the kubelet's own root) parsed into config, root-dir as data_root, the
// runtime endpoint as containerd_address. Config problems go to
// config_error; the record stands without them. The file's text is not
// kept: the parsed keys are, masked.
func Inspect(fsys *hostfs.FS, p procs.Process) *probev1.Daemon {
	d := &probev1.Daemon{Found: true, Pid: int32(p.PID), Argv: p.Argv}
	if exe, err := fsys.Readlink(p.PID, "exe"); err == nil {
		d.Executable = exe
	}
	if len(p.Argv) > 1 {
		d.Flags = ParseArgs(p.Argv[1:])
	}
	if cf := containerd.FlagValue(d.Flags, "config"); cf != "" {
		d.ConfigFile, d.ConfigFileSource = cf, daemon.SourceFlag
		if b, ok := daemon.ReadConfigFile(fsys, p.PID, d, "kubelet", "--config", MaxConfigSize); ok {
			v, err := ParseConfig(bytes.NewReader(b))
			if err != nil {
				d.ConfigError = fmt.Sprintf("%s: %v", d.ConfigFile, err)
			} else {
				d.Config = v
			}
		}
	}
	s := Resolve(d.Flags, d.Config)
	d.DataRoot, d.ContainerdAddress = s.RootDir, s.RuntimeEndpoint
	return d
}

// Kubelet is a kubelet the scan found, with its mount namespace: a socket
// path means something only within one.
type Kubelet struct {
	Daemon *probev1.Daemon
	MntNS  string
}

// Choose picks the node's kubelet: the one whose runtime endpoint is the
// runtime that started the probe (runtimeAddress, in mount namespace
// runtimeNS), else the only one. ok is false when none can be told apart;
// reason says why the choice was made, for people.
func Choose(kubelets []Kubelet, runtimeAddress, runtimeNS string) (d *probev1.Daemon, reason string, ok bool) {
	want := strings.TrimPrefix(runtimeAddress, "unix://")
	var byAddr, byNS []Kubelet
	for _, k := range kubelets {
		ep := strings.TrimPrefix(k.Daemon.GetContainerdAddress(), "unix://")
		if want == "" || ep == "" || !daemon.SamePath(ep, want) {
			continue
		}
		byAddr = append(byAddr, k)
		if runtimeNS != "" && k.MntNS == runtimeNS {
			byNS = append(byNS, k)
		}
	}
	switch {
	case len(byNS) == 1:
		d = byNS[0].Daemon
		return d, fmt.Sprintf("kubelet pid %d drives %s in the runtime's mount namespace", d.GetPid(), want), true
	case len(byAddr) == 1:
		d = byAddr[0].Daemon
		return d, fmt.Sprintf("kubelet pid %d drives %s, the runtime that started the probe", d.GetPid(), want), true
	case len(kubelets) == 1:
		d = kubelets[0].Daemon
		return d, fmt.Sprintf("kubelet pid %d is the only kubelet running", d.GetPid()), true
	}
	return nil, "", false
}

// DefaultCNIConfDir is where the runtime's CRI plugin reads CNI
// configurations unless its config says otherwise.
const DefaultCNIConfDir = "/etc/cni/net.d"

// CNIConfDir is the CNI configuration directory a containerd config
// (parsed, as in Daemon.config) gives its CRI plugin: conf_dir under
// plugins."io.containerd.grpc.v1.cri".cni (config version 2) or
// plugins."io.containerd.cri.v1.runtime".cni (version 3); the default
// otherwise (dockerd with cri-dockerd, or no config).
func CNIConfDir(containerdConfig *structpb.Value) string {
	plugins := containerdConfig.GetStructValue().GetFields()["plugins"].GetStructValue().GetFields()
	for _, p := range []string{"io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri"} {
		cni := plugins[p].GetStructValue().GetFields()["cni"].GetStructValue().GetFields()
		if dir := cni["conf_dir"].GetStringValue(); dir != "" {
			return dir
		}
	}
	return DefaultCNIConfDir
}
