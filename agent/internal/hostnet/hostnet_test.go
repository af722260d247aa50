package hostnet

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestParseProcRouteCapture reads /proc/net/route captured on a Linux host
// with docker0 (whose `ip route` was: default via 192.0.2.1 dev eth0;
// 172.17.0.0/16 dev docker0; 192.0.2.0/24 dev eth0).
func TestParseProcRouteCapture(t *testing.T) {
	f, err := os.Open("testdata/linux-host.route")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseProcRoute(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, strings.Join(strings.Fields(r.Destination+" "+r.Gateway+" "+r.Device), " "))
	}
	want := []string{"default 192.0.2.1 eth0", "172.17.0.0/16 docker0", "192.0.2.0/24 eth0"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("routes = %q, want %q", got, want)
	}
}

func TestParseProcRouteMalformed(t *testing.T) {
	for _, in := range []string{
		"Iface\tDestination\nX\t0000\n",
		"Iface\nwg0\tZZ000000\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n",
		"Iface\nwg0\t0000000A\t00000000\t0001\t0\t0\tx\t0000FFFF\t0\t0\t0\n",
	} {
		if _, err := ParseProcRoute(strings.NewReader(in)); !errors.Is(err, ErrParse) {
			t.Errorf("%q: err = %v, want ErrParse", in, err)
		}
	}
	// A VPN's route: 10.8.0.0/16 via wg0.
	rs, err := ParseProcRoute(strings.NewReader("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\nwg0\t0000080A\t00000000\t0001\t0\t0\t50\t0000FFFF\t0\t0\t0\n"))
	if err != nil || len(rs) != 1 || rs[0].Destination != "10.8.0.0/16" || rs[0].Metric != 50 {
		t.Errorf("wg0 route = %v, %v", rs, err)
	}
}

func FuzzParseProcRoute(f *testing.F) {
	if b, err := os.ReadFile("testdata/linux-host.route"); err == nil {
		f.Add(string(b))
	}
	f.Add("Iface\nwg0\t0000080A\t00000000\t0001\t0\t0\t50\t0000FFFF\t0\t0\t0\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseProcRoute(strings.NewReader(s)) // must not panic
	})
}

// TestCollectHere reads this machine's interfaces and routes.
func TestCollectHere(t *testing.T) {
	h := Collect()
	if len(h.Interfaces) == 0 {
		t.Fatalf("no interfaces: %v", h.Errors)
	}
	for _, e := range h.Errors {
		if e.Section == "host.routes" && e.Code == "Unimplemented" {
			t.Skip("routes unsupported here")
		}
		t.Errorf("error: %v", e)
	}
	if len(h.Routes) == 0 {
		t.Log("no IPv4 routes here")
	}
}
