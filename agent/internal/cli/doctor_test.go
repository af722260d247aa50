package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/pathmap"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

func TestDoctorText(t *testing.T) {
	var b bytes.Buffer
	err := doctorText(&b, []*probev1.Finding{
		{Id: "daemon.config-json", Severity: "error", Status: "fail", Summary: "not valid JSON", Evidence: []string{"daemon.configError line 3"}, Fix: "fix it", DocUrl: "https://docs.docker.com/x"},
		{Id: "net.host-overlap", Severity: "warning", Status: "warn", Summary: "1 overlap"},
		{Id: "net.kubernetes", Severity: "info", Status: "pass", Summary: "cni0", Evidence: []string{"hidden for a pass"}},
		{Id: "daemon.config-conflicts", Severity: "ok", Status: "skip", Summary: "skipped"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, w := range []string{
		"FAIL  daemon.config-json           not valid JSON\n",
		"- daemon.configError line 3\n", "fix: fix it\n", "see: https://docs.docker.com/x\n",
		"WARN  net.host-overlap             1 overlap\n",
		"PASS  net.kubernetes               cni0\n",
		"SKIP  daemon.config-conflicts      skipped\n",
		"4 checks: 1 pass, 1 warn, 1 fail, 1 skip\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("doctor text lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "hidden for a pass") {
		t.Errorf("a PASS line shows its evidence:\n%s", got)
	}
}

func TestDoctorBlockedIsOneFailLine(t *testing.T) {
	var b bytes.Buffer
	in := errors.New("cannot connect to the Docker engine at unix:///x.sock: permission denied")
	if err := doctorBlocked(in, &b, "text"); err != in {
		t.Errorf("err = %v", err)
	}
	if !strings.HasPrefix(b.String(), "FAIL  engine.reachable") || !strings.Contains(b.String(), "docker group") {
		t.Errorf("output:\n%s", b.String())
	}
}

func TestShareCheck(t *testing.T) {
	rep := &probev1.Report{Mounts: []*probev1.Mount{
		{MountPoint: "/run/desktop/mnt/host/c", Propagation: "shared"},
		{MountPoint: "/mnt/host/c", Propagation: "private"},
	}}
	f, _ := pathmap.Translate(`C:\temp\WebApplication1`)
	v := shareCheck(rep, f, "in the VM")
	if !v.Mounted || !v.MntMounted || !strings.Contains(v.Note, "hostPath /run/desktop/mnt/host/c/temp/WebApplication1 works") {
		t.Errorf("c: %+v", v)
	}
	f, _ = pathmap.Translate(`D:\x`)
	if v := shareCheck(rep, f, "in the VM"); v.Mounted || !strings.Contains(v.Note, "not mounted") {
		t.Errorf("d: %+v", v)
	}
	var b bytes.Buffer
	if err := writePath(&b, f, pathChecks{}, "text"); err != nil || !strings.Contains(b.String(), "Kubernetes hostPath:   /run/desktop/mnt/host/d/x") {
		t.Errorf("text: %v\n%s", err, b.String())
	}
}
