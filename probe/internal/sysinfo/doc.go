// Package sysinfo describes the target's system (host name and kernel as
// its UTS namespace sees them, os-release from its root, namespace
// identities) and the probe's own container (its /etc/hosts, resolv.conf,
// host name and capabilities).
//
// The parsers (ParseOSRelease, ParseHosts, ParseResolvConf,
// ParseCapabilities) take an io.Reader, never panic, return what they could
// parse together with an error that quotes the first bad line, and run on
// any OS. Entering the target's UTS namespace is Linux-only
// (sysinfo_linux.go).
package sysinfo

import (
	"errors"
	"fmt"
)

// ErrParse marks malformed content; the error text quotes the bad line.
var ErrParse = errors.New("malformed file")

// ErrUnsupported is returned off Linux.
var ErrUnsupported = fmt.Errorf("namespaces are linux-only: %w", errors.ErrUnsupported)
