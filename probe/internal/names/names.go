// Package names asks a DNS server for A records of a few names, the way a
// container on the default bridge would (it inherits the VM's
// resolv.conf): one UDP socket, every query sent at once, all answers
// awaited until one deadline, so a resolver that never answers costs at
// most that long. The socket may live in another process's network
// namespace (Listen); the query logic (Query) works on any PacketConn.
package names

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Result is one name's answer.
type Result struct {
	Name      string
	Addresses []string
	// Err is "" on an answer with addresses; otherwise why there is none
	// (NXDOMAIN, no A record, timeout, refused...).
	Err     string
	Elapsed time.Duration
}

// Query sends an A query for each name to server over conn and waits for
// the answers until deadline.
func Query(conn net.PacketConn, server netip.AddrPort, names []string, deadline time.Time) []Result {
	start := time.Now()
	out := make([]Result, len(names))
	pending := map[uint16]int{}
	dst := net.UDPAddrFromAddrPort(server)
	for i, n := range names {
		out[i] = Result{Name: n, Err: "no answer before the deadline"}
		id := uint16(0x5d00 + i)
		b, err := build(id, n)
		if err != nil {
			out[i].Err = err.Error()
			continue
		}
		if _, err := conn.WriteTo(b, dst); err != nil {
			out[i].Err = "send: " + err.Error()
			continue
		}
		pending[id] = i
	}
	conn.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	for len(pending) > 0 {
		nr, from, err := conn.ReadFrom(buf)
		if err != nil {
			msg := "no answer within the deadline"
			if !errors.Is(err, errTimeout(err)) {
				msg = "receive: " + err.Error()
			}
			for _, i := range pending {
				out[i].Err, out[i].Elapsed = msg, time.Since(start)
			}
			return out
		}
		if ua, ok := from.(*net.UDPAddr); !ok || ua.AddrPort().Addr().Unmap() != server.Addr() {
			continue // not our server's
		}
		id, addrs, rerr := parse(buf[:nr])
		i, ok := pending[id]
		if !ok {
			continue
		}
		delete(pending, id)
		out[i].Elapsed = time.Since(start)
		out[i].Addresses, out[i].Err = addrs, rerr
	}
	return out
}

// errTimeout returns err itself when it is a timeout, so that errors.Is
// matches, and a sentinel otherwise.
func errTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return errNotTimeout
}

var errNotTimeout = errors.New("not a timeout")

func build(id uint16, name string) ([]byte, error) {
	fq := name
	if !strings.HasSuffix(fq, ".") {
		fq += "."
	}
	n, err := dnsmessage.NewName(fq)
	if err != nil {
		return nil, fmt.Errorf("name %q: %w", name, err)
	}
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	return m.Pack()
}

// parse reads an answer: its id, the A records, or why there are none.
func parse(b []byte) (uint16, []string, string) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return 0, nil, "malformed answer: " + err.Error()
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return h.ID, nil, strings.TrimPrefix(h.RCode.String(), "RCode")
	}
	if err := p.SkipAllQuestions(); err != nil {
		return h.ID, nil, "malformed answer: " + err.Error()
	}
	var addrs []string
	for {
		ah, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return h.ID, addrs, "malformed answer: " + err.Error()
		}
		if ah.Type != dnsmessage.TypeA {
			if err := p.SkipAnswer(); err != nil {
				return h.ID, addrs, "malformed answer: " + err.Error()
			}
			continue
		}
		a, err := p.AResource()
		if err != nil {
			return h.ID, addrs, "malformed answer: " + err.Error()
		}
		addrs = append(addrs, netip.AddrFrom4(a.A).String())
	}
	if len(addrs) == 0 {
		return h.ID, nil, "no A record"
	}
	return h.ID, addrs, ""
}
