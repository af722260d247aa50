package sysinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ParseHosts parses hosts(5): an address, then one or more names, # starts
// a comment. Lines with a bad address or no name are skipped and the first
// is reported.
func ParseHosts(r io.Reader) ([]*probev1.HostsEntry, error) {
	var out []*probev1.HostsEntry
	var firstErr error
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line, _, _ := strings.Cut(s.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var err error
		if _, perr := netip.ParseAddr(fields[0]); perr != nil {
			err = fmt.Errorf("bad address %q", fields[0])
		} else if len(fields) < 2 {
			err = errors.New("no host name")
		}
		if err != nil {
			if firstErr == nil {
				firstErr = lineError(n, s.Text(), err)
			}
			continue
		}
		out = append(out, &probev1.HostsEntry{Address: fields[0], Names: fields[1:]})
	}
	if err := s.Err(); err != nil && firstErr == nil {
		firstErr = err
	}
	return out, firstErr
}

// ResolvConf is what the probe reports of resolv.conf(5).
type ResolvConf struct {
	Nameservers []string
	// Search is the last search or domain line's domains, as the
	// resolver uses only the last.
	Search  []string
	Options []string
}

// ParseResolvConf parses resolv.conf(5). Comments start with # or ;.
// Unknown keywords (sortlist, lookup...) are ignored like the resolver
// ignores them; a nameserver without a valid address is reported.
func ParseResolvConf(r io.Reader) (ResolvConf, error) {
	var rc ResolvConf
	var firstErr error
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		fields := strings.Fields(line)
		var err error
		switch fields[0] {
		case "nameserver":
			if len(fields) < 2 {
				err = errors.New("nameserver without an address")
			} else if _, perr := netip.ParseAddr(fields[1]); perr != nil {
				err = fmt.Errorf("bad nameserver address %q", fields[1])
			} else {
				rc.Nameservers = append(rc.Nameservers, fields[1])
			}
		case "search":
			rc.Search = fields[1:]
		case "domain":
			if len(fields) < 2 {
				err = errors.New("domain without a name")
			} else {
				rc.Search = fields[1:2]
			}
		case "options":
			rc.Options = append(rc.Options, fields[1:]...)
		}
		if err != nil && firstErr == nil {
			firstErr = lineError(n, s.Text(), err)
		}
	}
	if err := s.Err(); err != nil && firstErr == nil {
		firstErr = err
	}
	return rc, firstErr
}

// capNames are the capability bits of linux/capability.h.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityNames names the bits of a capability set; bits newer than this
// table are named CAP_<n>.
func CapabilityNames(set uint64) []string {
	var out []string
	for bit := 0; bit < 64; bit++ {
		if set&(1<<bit) == 0 {
			continue
		}
		if bit < len(capNames) {
			out = append(out, capNames[bit])
		} else {
			out = append(out, "CAP_"+strconv.Itoa(bit))
		}
	}
	return out
}

// ParseCapabilities reads the effective capability set (CapEff) from
// /proc/<pid>/status.
func ParseCapabilities(r io.Reader) ([]string, error) {
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		key, value, ok := strings.Cut(s.Text(), ":")
		if !ok || key != "CapEff" {
			continue
		}
		set, err := strconv.ParseUint(strings.TrimSpace(value), 16, 64)
		if err != nil {
			return nil, lineError(n, s.Text(), errors.New("bad hex capability set"))
		}
		return CapabilityNames(set), nil
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: no CapEff line", ErrParse)
}
