package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func TestSVGGolden(t *testing.T) {
	for _, name := range append([]string{"netpic"}, fixtures...) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := SVG(&buf, loadFixture(t, name)); err != nil {
				t.Fatal(err)
			}
			wellFormed(t, buf.Bytes())
			golden(t, filepath.Join("testdata", name+".golden.svg"), buf.Bytes())
		})
	}
}

func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
	}
}

// TestSVGDrawsWhatFindingsFlag: the analysed Desktop report behind a VPN
// (MTU 1400, a 172.16.0.0/12 route): eth0 and docker0 are drawn in the MTU
// warning's colour, the overlapping route and network in the overlap's,
// the shares and containers by name, the proxy redacted by the caller.
func TestSVGDrawsWhatFindingsFlag(t *testing.T) {
	svg := NetworkPicture(loadFixture(t, "netpic"))
	amber := sevColour["warning"]
	for _, want := range []string{
		`<g id="eth0"><rect x="410" y="`,
		`172.16.0.0/12 via 10.8.0.1 dev Corp VPN</text>`,
		`Docker subnet 192.168.65.0/24`,
		`host.docker.internal → 192.168.65.254`,
		`C: → /run/desktop/mnt/host/c</text>`,
		`shared: to kubelet and containers</text>`,
		`C: → /mnt/host/c</text>`,
		`private: dockerd&#39;s namespace only</text>`,
		`Kubernetes pods 10.1.0.0/16`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("picture lacks %q", want)
		}
	}
	for _, id := range []string{"eth0", "net-bridge"} {
		if !regexp.MustCompile(`<g id="` + id + `"><rect [^>]*stroke="` + amber + `"`).MatchString(svg) {
			t.Errorf("%s is not drawn in the MTU warning's colour", id)
		}
	}
	if !strings.Contains(svg, `fill="`+amber+`">  172.16.0.0/12`) {
		t.Error("the overlapping host route is not drawn in the overlap warning's colour")
	}
}

// TestSVGEscapes: names come from the engine and the host; none may break
// out of the picture.
func TestSVGEscapes(t *testing.T) {
	r := &probev1.Report{Engine: &probev1.Engine{Name: `<script>alert(1)</script>`, Networks: []*probev1.Network{{Name: `a"b<c>`, Driver: "bridge", Id: "0123456789abcdef"}}}}
	var buf bytes.Buffer
	if err := SVG(&buf, r); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, buf.Bytes())
	if strings.Contains(buf.String(), "<script") {
		t.Error("unescaped engine name")
	}
}
