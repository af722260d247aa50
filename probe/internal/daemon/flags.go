package daemon

import (
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// boolFlags are dockerd's boolean flags, current and removed ones, by long
// name: they take no separate value argument ("--debug -H fd://" must not
// read "-H" as debug's value), though "--iptables=false" sets one.
var boolFlags = map[string]bool{
	"allow-direct-routing":    true,
	"api-enable-cors":         true, // removed in 17.09
	"cri-containerd":          true,
	"debug":                   true,
	"disable-legacy-registry": true, // removed in 17.12
	"experimental":            true,
	"help":                    true,
	"icc":                     true,
	"init":                    true,
	"ip-forward":              true,
	"ip-forward-no-drop":      true,
	"ip-masq":                 true,
	"ip6tables":               true,
	"iptables":                true,
	"ipv6":                    true,
	"live-restore":            true,
	"no-new-privileges":       true,
	"raw-logs":                true,
	"restart":                 true, // deprecated
	"rootless":                true,
	"selinux-enabled":         true,
	"tls":                     true,
	"tlsverify":               true,
	"userland-proxy":          true,
	"validate":                true,
	"version":                 true,
}

// valueFlags are dockerd's flags that always take a value, even one that
// starts with a dash (pflag reads "--oom-score-adjust -500" that way).
var valueFlags = map[string]bool{
	"add-runtime": true, "allow-nondistributable-artifacts": true, "api-cors-header": true,
	"authorization-plugin": true, "bip": true, "bip6": true, "bridge": true,
	"bridge-accept-fwmark": true, "cdi-spec-dir": true, "cgroup-parent": true,
	"cluster-advertise": true, "cluster-store": true, "cluster-store-opt": true,
	"config-file": true, "containerd": true, "containerd-namespace": true,
	"containerd-plugins-namespace": true, "cpu-rt-period": true, "cpu-rt-runtime": true,
	"data-root": true, "default-address-pool": true, "default-cgroupns-mode": true,
	"default-gateway": true, "default-gateway-v6": true, "default-ipc-mode": true,
	"default-network-opt": true, "default-runtime": true, "default-shm-size": true,
	"default-ulimit": true, "dns": true, "dns-opt": true, "dns-search": true,
	"exec-opt": true, "exec-root": true, "feature": true, "firewall-backend": true,
	"fixed-cidr": true, "fixed-cidr-v6": true, "graph": true, "group": true, "host": true,
	"host-gateway-ip": true, "http-proxy": true, "https-proxy": true, "init-path": true,
	"insecure-registry": true, "ip": true, "label": true, "log-driver": true,
	"log-format": true, "log-level": true, "log-opt": true, "max-concurrent-downloads": true,
	"max-concurrent-uploads": true, "max-download-attempts": true, "metrics-addr": true,
	"mtu": true, "network-control-plane-mtu": true, "network-diagnostic-port": true,
	"no-proxy": true, "node-generic-resource": true, "oom-score-adjust": true,
	"pidfile": true, "registry-mirror": true, "seccomp-profile": true,
	"shutdown-timeout": true, "storage-driver": true, "storage-opt": true,
	"swarm-default-advertise-addr": true, "tlscacert": true, "tlscert": true,
	"tlskey": true, "userland-proxy-path": true, "userns-remap": true,
}

// shortFlags maps dockerd's one-letter flags to their long names.
var shortFlags = map[string]string{
	"D": "debug",
	"G": "group",
	"H": "host",
	"b": "bridge",
	"g": "graph", // deprecated alias of --data-root, removed in 23.0
	"h": "help",
	"l": "log-level",
	"p": "pidfile",
	"r": "restart",
	"s": "storage-driver",
	"v": "version",
}

// Canonical returns the long name of a flag name as ParseArgs records it
// ("H" -> "host"); long names are returned unchanged.
func Canonical(name string) string {
	if long, ok := shortFlags[name]; ok {
		return long
	}
	return name
}

// ParseArgs parses dockerd's arguments (argv without argv[0]) the way pflag
// does: "--flag value", "--flag=value", "-H value", "-Hvalue", "-H=value",
// grouped boolean shorthands ("-Dl debug"), repeated flags kept in order.
// Flag names are recorded as written, without dashes ("H", not "host"); use
// Canonical to compare. Arguments that are not flags, and everything after
// "--", are returned as positional; dockerd accepts none, so any there are
// worth showing.
//
// For a flag it does not know (a newer dockerd), ParseArgs guesses: the next
// argument is its value unless it looks like a flag.
func ParseArgs(args []string) (flags []*probev1.Flag, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		// next consumes the following argument as a value. force is set for
		// flags known to take one, which pflag feeds even "-500".
		next := func(force bool) (string, bool) {
			if i+1 >= len(args) {
				return "", false
			}
			v := args[i+1]
			if !force && len(v) > 1 && v[0] == '-' {
				return "", false
			}
			i++
			return v, true
		}
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			return flags, positional
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			if name == "" {
				positional = append(positional, a)
				continue
			}
			if !hasValue && !boolFlags[name] {
				value, hasValue = next(valueFlags[name])
			}
			flags = append(flags, &probev1.Flag{Name: name, Value: value, HasValue: hasValue})
		case len(a) > 1 && a[0] == '-':
			flags = parseShorthands(flags, a[1:], next)
		default:
			positional = append(positional, a)
		}
	}
	return flags, positional
}

// parseShorthands parses one "-abc" argument like pflag's parseShortArg:
// boolean letters stand alone and the run continues; the first letter that
// takes a value takes the rest of the argument, or the next argument.
func parseShorthands(flags []*probev1.Flag, shorts string, next func(force bool) (string, bool)) []*probev1.Flag {
	for len(shorts) > 0 {
		name := shorts[:1]
		// "-D=false": an explicit value for whatever letter it is.
		if len(shorts) > 2 && shorts[1] == '=' {
			return append(flags, &probev1.Flag{Name: name, Value: shorts[2:], HasValue: true})
		}
		long, known := shortFlags[name]
		if known && boolFlags[long] {
			flags = append(flags, &probev1.Flag{Name: name})
			shorts = shorts[1:]
			continue
		}
		if len(shorts) > 1 {
			return append(flags, &probev1.Flag{Name: name, Value: strings.TrimPrefix(shorts[1:], "="), HasValue: true})
		}
		value, ok := next(known)
		return append(flags, &probev1.Flag{Name: name, Value: value, HasValue: ok})
	}
	return flags
}
