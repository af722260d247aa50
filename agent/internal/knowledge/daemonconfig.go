package knowledge

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// ConfigKeys are the daemon.json keys dockerd (20.10 through 28) accepts on
// Linux. dockerd refuses to start on any other key.
var ConfigKeys = []string{
	"allow-direct-routing", "allow-nondistributable-artifacts", "api-cors-header", "authorization-plugins",
	"bip", "bip6", "bridge", "bridge-accept-fwmark", "builder", "cdi-spec-dirs", "cgroup-parent",
	"cluster-advertise", "cluster-store", "cluster-store-opts", "containerd", "containerd-namespace",
	"containerd-plugins-namespace", "cpu-rt-period", "cpu-rt-runtime", "data-root", "debug",
	"default-address-pools", "default-cgroupns-mode", "default-gateway", "default-gateway-v6",
	"default-ipc-mode", "default-network-opts", "default-runtime", "default-shm-size", "default-ulimits",
	"dns", "dns-opts", "dns-search", "exec-opts", "exec-root", "experimental", "features",
	"firewall-backend", "fixed-cidr", "fixed-cidr-v6", "graph", "group", "host-gateway-ip",
	"host-gateway-ips", "hosts", "http-proxy", "https-proxy", "icc", "init", "init-path",
	"insecure-registries", "ip", "ip-forward", "ip-forward-no-drop", "ip-masq", "ip6tables",
	"iptables", "ipv6", "labels", "live-restore", "log-driver", "log-format", "log-level", "log-opts",
	"max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts", "metrics-addr",
	"min-api-version", "mtu", "network-control-plane-mtu", "network-diagnostic-port", "no-new-privileges",
	"no-proxy", "node-generic-resources", "oom-score-adjust", "pidfile", "proxies", "raw-logs",
	"registry-mirrors", "rootless", "runtimes", "seccomp-profile", "selinux-enabled", "shutdown-timeout",
	"storage-driver", "storage-opts", "swarm-default-advertise-addr", "tls", "tlscacert", "tlscert",
	"tlskey", "tlsverify", "userland-proxy", "userland-proxy-path", "userns-remap",
}

// flagKeys maps dockerd flags whose config key is spelled differently.
var flagKeys = map[string]string{
	"H": "hosts", "host": "hosts", "D": "debug", "l": "log-level", "G": "group", "b": "bridge",
	"g": "graph", "p": "pidfile", "label": "labels", "dns-opt": "dns-opts", "storage-opt": "storage-opts",
	"log-opt": "log-opts", "exec-opt": "exec-opts", "insecure-registry": "insecure-registries",
	"registry-mirror": "registry-mirrors", "authorization-plugin": "authorization-plugins",
	"default-ulimit": "default-ulimits", "add-runtime": "runtimes", "default-address-pool": "default-address-pools",
	"cluster-store-opt": "cluster-store-opts", "cdi-spec-dir": "cdi-spec-dirs", "feature": "features",
	"default-network-opt": "default-network-opts", "host-gateway-ip": "host-gateway-ip",
}

// flagOnly are flags with no config key: giving them and a file is fine.
var flagOnly = map[string]bool{"config-file": true, "validate": true, "version": true, "v": true, "help": true}

// ConfigKey returns the daemon.json key a dockerd flag sets ("" for a
// flag with no key).
func ConfigKey(flag string) string {
	flag = strings.TrimLeft(flag, "-")
	if flagOnly[flag] {
		return ""
	}
	if k, ok := flagKeys[flag]; ok {
		return k
	}
	return flag
}

// DesktopDefaults are the flags Docker Desktop gives dockerd and the
// values current versions use; ".2" and "eth0" are older versions'.
var DesktopDefaults = map[string]string{
	"config-file":                  "/run/config/docker/daemon.json",
	"containerd":                   "/run/containerd/containerd.sock",
	"pidfile":                      "/run/desktop/docker.pid",
	"swarm-default-advertise-addr": "192.168.65.3",
	"host-gateway-ip":              HostGatewayNew,
}

// EffectiveConfig lists dockerd's settings: each flag (with the key it
// sets) and each config-file key not overridden, with its source.
func EffectiveConfig(d *probev1.Daemon) []*probev1.ConfigValue {
	var out []*probev1.ConfigValue
	fromFlag := map[string]bool{}
	for _, f := range d.GetFlags() {
		name := strings.TrimLeft(f.GetName(), "-")
		key := ConfigKey(name)
		if key == "" {
			key = name
		}
		origin := probev1.FlagOption(name)
		if f.GetHasValue() {
			origin += " " + f.GetValue()
		}
		out = append(out, &probev1.ConfigValue{Key: key, Value: f.GetValue(), Source: "flag", Origin: origin})
		fromFlag[key] = true
	}
	fields := configFields(d)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if fromFlag[k] {
			continue
		}
		out = append(out, &probev1.ConfigValue{Key: k, Value: jsonText(fields[k]), Source: "config",
			Origin: fmt.Sprintf("%q in %s", k, d.GetConfigFile())})
	}
	return out
}

func jsonText(v *structpb.Value) string {
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	b, err := json.Marshal(v.AsInterface())
	if err != nil {
		return "?"
	}
	return string(b)
}

// Conflicts lists the settings given both as a flag and in the config
// file: dockerd refuses to start that way ("the following directives are
// specified both as a flag and in the configuration file").
func Conflicts(d *probev1.Daemon) []string {
	fields := configFields(d)
	var out []string
	for _, f := range d.GetFlags() {
		k := ConfigKey(f.GetName())
		if k == "" {
			continue
		}
		if _, ok := fields[k]; ok && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// UnknownKey is a config-file key dockerd does not know.
type UnknownKey struct {
	Key string
	// Suggestion is the known key it most likely meant, or "".
	Suggestion string
}

// UnknownKeys lists the config file's unknown top-level keys; dockerd
// refuses to start with any ("the following directives don't match any
// configuration option").
func UnknownKeys(d *probev1.Daemon) []UnknownKey {
	var out []UnknownKey
	fields := configFields(d)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if slices.Contains(ConfigKeys, k) {
			continue
		}
		out = append(out, UnknownKey{Key: k, Suggestion: suggest(k)})
	}
	return out
}

func suggest(k string) string {
	lk := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
	best, bestD := "", 4
	for _, c := range ConfigKeys {
		if lk == c {
			return c
		}
		if d := distance(lk, c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > max(1, len(k)/4) {
		return ""
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
