//go:build !linux

package cli

import (
	"errors"
	"net"
)

// Abstract Unix sockets exist on Linux only; elsewhere (tests on a
// developer's machine) the wait ends at its deadline, a signal or stdin EOF.
var errNoAbstractSockets = errors.New("abstract Unix sockets need Linux")

func listenWait(string) (net.Listener, error) { return nil, errNoAbstractSockets }

func dialWait(string) (net.Conn, error) { return nil, errNoAbstractSockets }
