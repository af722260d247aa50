package transport

import (
	"net"
	"time"
)

// Carrier is the name of what carries a stream conn ("attach",
// "pods/exec"). Embedded in a conn, it supplies the net.Conn methods a
// stdio stream has no real answer for: both addresses are the carrier's
// name, and deadlines are accepted and ignored.
type Carrier string

func (c Carrier) LocalAddr() net.Addr            { return Addr(c) }
func (c Carrier) RemoteAddr() net.Addr           { return Addr(c) }
func (Carrier) SetDeadline(time.Time) error      { return nil }
func (Carrier) SetReadDeadline(time.Time) error  { return nil }
func (Carrier) SetWriteDeadline(time.Time) error { return nil }

// Addr is the address of a stream conn: just its carrier's name, for
// both network and address.
type Addr string

func (a Addr) Network() string { return string(a) }
func (a Addr) String() string  { return string(a) }
