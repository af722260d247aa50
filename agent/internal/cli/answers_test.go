package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/checks"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// TestProxyCredentialsNeverRendered: the engine's and the host's proxy
// URLs reach every output, but never their credentials, the findings'
// evidence included.
func TestProxyCredentialsNeverRendered(t *testing.T) {
	for _, format := range []string{"json", "yaml", "text", "html"} {
		rep := &probev1.Report{
			SchemaVersion: 1,
			Engine:        &probev1.Engine{HttpProxy: "http://alice:hunter2@proxy.corp:3128", NoProxy: "localhost"},
			Host:          &probev1.Host{Proxies: []*probev1.ProxySetting{{Source: "environment", HttpsProxy: "http://bob:s3cr3tpw@proxy.corp:3128"}}},
		}
		rep.Findings = checks.Run(rep)
		var b bytes.Buffer
		if err := render(&b, rep, outputOptions{format: format}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := b.String()
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cr3tpw") {
			t.Errorf("%s output holds a proxy password", format)
		}
		if format == "json" && !strings.Contains(out, "proxy.corp:3128") {
			t.Errorf("json lost the proxy itself")
		}
	}
}
