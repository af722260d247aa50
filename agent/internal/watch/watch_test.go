package watch

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func TestPrintJSONIsOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	events := []*probev1.WatchEvent{
		{Kind: "ready", ObservedUnixNano: 1, TargetPid: 42, Summary: "watching pid 42"},
		{Kind: "address", Action: "added", Device: "eth1", Address: &probev1.Address{Cidr: "10.8.0.2/16"}, Summary: "address 10.8.0.2/16 on eth1 added\nsecond line"},
	}
	for _, e := range events {
		if err := Print(&buf, e, true); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(events), buf.String())
	}
	var got struct {
		Kind, Action, Device string
		Address              struct{ Cidr string }
	}
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
		t.Fatalf("line %q: %v", lines[1], err)
	}
	if got.Kind != "address" || got.Action != "added" || got.Device != "eth1" || got.Address.Cidr != "10.8.0.2/16" {
		t.Errorf("decoded %+v", got)
	}
}

func TestText(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.Local)
	e := &probev1.WatchEvent{Kind: "route", Action: "removed", ObservedUnixNano: at.UnixNano(), Summary: "route 10.8.0.0/16 dev tun0\nremoved"}
	want := "03:04:05.006 route removed      route 10.8.0.0/16 dev tun0 removed"
	if got := Text(e); got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestLostSummary(t *testing.T) {
	if s := lostSummary("kubernetes", nil); !strings.Contains(s, "probe pod") || strings.Contains(s, "dockerd") {
		t.Errorf("kubernetes: %q", s)
	}
	if s := lostSummary("nerdctl", &probev1.Daemon{Pid: 7, Executable: "/usr/local/bin/containerd"}); !strings.Contains(s, "containerd pid 7 restarting") {
		t.Errorf("nerdctl: %q", s)
	}
	if s := lostSummary("docker", &probev1.Daemon{Pid: 8}); !strings.Contains(s, "dockerd pid 8 restarting") {
		t.Errorf("docker: %q", s)
	}
}

func TestRestarted(t *testing.T) {
	before := &probev1.Daemon{Pid: 10, Argv: []string{"dockerd", "--host-gateway-ip", "192.168.65.254"}}
	ready := &probev1.WatchEvent{Kind: KindReady, ObservedUnixNano: 5, TargetPid: 11,
		Daemon: &probev1.Daemon{Pid: 11, Argv: []string{"dockerd", "--host-gateway-ip", "192.168.65.2"}}}
	e := Restarted(before, ready)
	if e.GetKind() != KindDaemon || e.GetAction() != ActionRestarted {
		t.Fatalf("got %s %s, want daemon restarted", e.GetKind(), e.GetAction())
	}
	if !slices.Equal(e.GetArgsAdded(), []string{"192.168.65.2"}) || !slices.Equal(e.GetArgsRemoved(), []string{"192.168.65.254"}) {
		t.Errorf("args added %q removed %q", e.GetArgsAdded(), e.GetArgsRemoved())
	}
	if !strings.Contains(e.GetSummary(), "pid 10 -> 11") {
		t.Errorf("summary %q", e.GetSummary())
	}
	// containerd (a node's runtime) says its own name.
	ctrd := Restarted(&probev1.Daemon{Pid: 10, Executable: "/usr/bin/containerd"}, &probev1.WatchEvent{Kind: KindReady, Daemon: &probev1.Daemon{Pid: 12, Executable: "/usr/bin/containerd"}})
	if !strings.HasPrefix(ctrd.GetSummary(), "containerd restarted: pid 10 -> 12") {
		t.Errorf("containerd summary %q", ctrd.GetSummary())
	}
	// The same dockerd (the probe alone was replaced): the ready event stays.
	same := &probev1.WatchEvent{Kind: KindReady, Daemon: &probev1.Daemon{Pid: 10}}
	if got := Restarted(before, same); got != same {
		t.Errorf("same pid: got %v, want the ready event", got)
	}
}
