package probev1

import (
	"slices"
	"testing"
)

func TestArgsDiff(t *testing.T) {
	before := []string{"dockerd", "--host-gateway-ip", "192.168.65.254", "--debug"}
	after := []string{"dockerd", "--host-gateway-ip", "192.168.65.2", "--debug", "--iptables=false"}
	added, removed := ArgsDiff(before, after)
	if !slices.Equal(added, []string{"192.168.65.2", "--iptables=false"}) {
		t.Errorf("added = %q", added)
	}
	if !slices.Equal(removed, []string{"192.168.65.254"}) {
		t.Errorf("removed = %q", removed)
	}
	if a, r := ArgsDiff(before, before); a != nil || r != nil {
		t.Errorf("same args: added %q removed %q", a, r)
	}
}

func BenchmarkArgsDiff(b *testing.B) {
	before := []string{"/usr/local/bin/dockerd", "--config-file", "/run/config/docker/daemon.json", "--containerd", "/run/containerd/containerd.sock",
		"--pidfile", "/run/desktop/docker.pid", "--swarm-default-advertise-addr=192.168.65.3", "--host-gateway-ip", "192.168.65.254"}
	after := append(append([]string(nil), before[:len(before)-1]...), "192.168.65.2", "--debug")
	b.ReportAllocs()
	for b.Loop() {
		ArgsDiff(before, after)
	}
}
