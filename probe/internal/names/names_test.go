package names

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// server answers on loopback like Docker Desktop's DNS: host.docker.internal
// and gateway.docker.internal have A records, the rest is NXDOMAIN, and
// "slow.test" is never answered.
func server(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Header.Response = true
			switch q.Name.String() {
			case "host.docker.internal.":
				m.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}, Body: &dnsmessage.AResource{A: [4]byte{192, 168, 65, 254}}}}
			case "gateway.docker.internal.":
				m.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}, Body: &dnsmessage.AResource{A: [4]byte{192, 168, 65, 1}}}}
			case "slow.test.":
				continue
			default:
				m.Header.RCode = dnsmessage.RCodeNameError
			}
			b, _ := m.Pack()
			pc.WriteTo(b, from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestQuery(t *testing.T) {
	srv := server(t)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	rs := Query(c, srv, []string{"host.docker.internal", "gateway.docker.internal", "kubernetes.docker.internal", "slow.test"}, time.Now().Add(500*time.Millisecond))
	elapsed := time.Since(start)
	got := []string{}
	for _, r := range rs {
		got = append(got, r.Name+"="+strings.Join(r.Addresses, ",")+"/"+r.Err)
	}
	want := []string{"host.docker.internal=192.168.65.254/", "gateway.docker.internal=192.168.65.1/",
		"kubernetes.docker.internal=/NameError", "slow.test=/no answer within the deadline"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if elapsed > 2*time.Second || elapsed < 400*time.Millisecond {
		t.Errorf("took %v; the deadline was 500ms", elapsed)
	}
}

func TestQueryRefused(t *testing.T) {
	// Nothing listens: the kernel answers ICMP port unreachable.
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	dead := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	c, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer c.Close()
	rs := Query(c, dead, []string{"host.docker.internal"}, time.Now().Add(300*time.Millisecond))
	if len(rs) != 1 || rs[0].Err == "" || len(rs[0].Addresses) != 0 {
		t.Errorf("got %+v", rs)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := build(1, "host.docker.internal")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { parse(b) })
}
