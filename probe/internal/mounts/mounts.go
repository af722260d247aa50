// Package mounts turns a process's /proc/<pid>/mountinfo into report
// records. Parsing is github.com/moby/sys/mountinfo's (which unescapes the
// octal \040 sequences and copes with the optional fields); this package
// only adds what the report needs on top: the propagation of each mount
// and its peer and master groups, split out of the optional fields.
//
// Use it for the target's mount table; for "is this path a mount point"
// questions about the probe itself use moby/sys/mountinfo directly.
package mounts

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrParse marks a mountinfo the library could not parse; the wrapped error
// quotes the bad line.
var ErrParse = errors.New("malformed mountinfo")

// Read reads and converts /proc/<pid>/mountinfo.
func Read(fsys *hostfs.FS, pid int) ([]*probev1.Mount, error) {
	b, err := fsys.ReadProcFile(pid, "mountinfo")
	if err != nil {
		return nil, err
	}
	return Parse(bytes.NewReader(b))
}

// Convert turns one parsed mountinfo line into a Mount.
func Convert(m *mountinfo.Info) *probev1.Mount {
	out := &probev1.Mount{
		Id:           int32(m.ID),
		ParentId:     int32(m.Parent),
		Major:        int32(m.Major),
		Minor:        int32(m.Minor),
		MajorMinor:   strconv.Itoa(m.Major) + ":" + strconv.Itoa(m.Minor),
		Root:         m.Root,
		MountPoint:   m.Mountpoint,
		Options:      m.Options,
		FsType:       m.FSType,
		Source:       m.Source,
		SuperOptions: m.VFSOptions,
	}
	out.OptionalFields = strings.Fields(m.Optional)
	p := ParsePropagation(out.OptionalFields)
	out.Propagation, out.PeerGroup, out.MasterGroup = p.Mode, p.PeerGroup, p.MasterGroup
	return out
}

// Propagation is what mountinfo's optional fields say about mount event
// propagation (mount_namespaces(7)).
type Propagation struct {
	// Mode is shared, slave, shared+slave, unbindable or private.
	Mode string
	// PeerGroup is N of "shared:N", 0 when not shared.
	PeerGroup int32
	// MasterGroup is N of "master:N", 0 when not a slave.
	MasterGroup int32
}

// ParsePropagation reads the optional fields of a mountinfo line. Unknown
// tags (propagate_from:N, future ones) are ignored; a mount with none of
// shared, master or unbindable is private.
func ParsePropagation(fields []string) Propagation {
	var p Propagation
	unbindable := false
	for _, f := range fields {
		tag, value, _ := strings.Cut(f, ":")
		switch tag {
		case "shared":
			p.PeerGroup = group(value)
		case "master":
			p.MasterGroup = group(value)
		case "unbindable":
			unbindable = true
		}
	}
	shared, slave := hasTag(fields, "shared"), hasTag(fields, "master")
	switch {
	case shared && slave:
		p.Mode = "shared+slave"
	case shared:
		p.Mode = "shared"
	case slave:
		p.Mode = "slave"
	case unbindable:
		p.Mode = "unbindable"
	default:
		p.Mode = "private"
	}
	return p
}

func hasTag(fields []string, tag string) bool {
	for _, f := range fields {
		if t, _, _ := strings.Cut(f, ":"); t == tag {
			return true
		}
	}
	return false
}

// group parses a peer group id; the kernel's are positive int32s.
func group(s string) int32 {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}
