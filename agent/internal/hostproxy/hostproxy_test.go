package hostproxy

import (
	"testing"

	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func TestFromEnv(t *testing.T) {
	env := map[string]string{"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2", "no_proxy": "localhost"}
	got := FromEnv(func(k string) string { return env[k] })
	want := &probev1.ProxySetting{Source: SourceEnvironment, HttpsProxy: "http://upper:2", NoProxy: "localhost"}
	if !proto.Equal(got, want) {
		t.Errorf("FromEnv = %v, want %v", got, want)
	}
	if p := FromEnv(func(string) string { return "" }); p != nil {
		t.Errorf("no proxy set: got %v", p)
	}
}

func TestParseInternetSettings(t *testing.T) {
	tests := []struct {
		server, override string
		want             *probev1.ProxySetting
	}{
		{"proxy.corp:8080", "<local>;*.corp", &probev1.ProxySetting{Source: "Internet Settings", HttpProxy: "http://proxy.corp:8080", HttpsProxy: "http://proxy.corp:8080", NoProxy: "<local>,*.corp"}},
		{"http=a:1;https=b:2;ftp=c:3", "", &probev1.ProxySetting{Source: "Internet Settings", HttpProxy: "http://a:1", HttpsProxy: "http://b:2"}},
	}
	for _, tt := range tests {
		if got := ParseInternetSettings(tt.server, tt.override); !proto.Equal(got, tt.want) {
			t.Errorf("ParseInternetSettings(%q, %q) = %v, want %v", tt.server, tt.override, got, tt.want)
		}
	}
}
