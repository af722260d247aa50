// Command fakedns answers DNS A queries like Docker Desktop's resolver at
// 192.168.65.7 does, for the e2e suite: host.docker.internal,
// gateway.docker.internal and kubernetes.docker.internal get the addresses
// given by flags, everything else NXDOMAIN. It only ever answers on the
// address it is told to listen on (inside a test's namespace).
package main

import (
	"flag"
	"log"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

func main() {
	addr := flag.String("addr", "192.168.65.7:53", "UDP address to answer on")
	host := flag.String("host", "192.168.65.254", "host.docker.internal")
	gw := flag.String("gateway", "192.168.65.1", "gateway.docker.internal")
	kube := flag.String("kubernetes", "127.0.0.1", "kubernetes.docker.internal")
	flag.Parse()
	table := map[string]string{"host.docker.internal.": *host, "gateway.docker.internal.": *gw, "kubernetes.docker.internal.": *kube}
	pc, err := net.ListenPacket("udp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("fakedns: listening on %s", pc.LocalAddr())
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		var m dnsmessage.Message
		if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
			continue
		}
		q := m.Questions[0]
		m.Header.Response, m.Header.RecursionAvailable = true, true
		if a, ok := table[strings.ToLower(q.Name.String())]; ok && q.Type == dnsmessage.TypeA {
			ip := netip.MustParseAddr(a).As4()
			m.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
				Body: &dnsmessage.AResource{A: ip}}}
		} else if !ok {
			m.Header.RCode = dnsmessage.RCodeNameError
		}
		b, err := m.Pack()
		if err == nil {
			pc.WriteTo(b, from)
		}
	}
}
