package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// checkComplete asserts the invariant every report keeps: each section is
// accounted for, by a timing or an error, and the report marshals.
func checkComplete(t *testing.T, r *probev1.Report) {
	t.Helper()
	for _, s := range Sections {
		timed := slices.ContainsFunc(r.GetTimings(), func(x *probev1.SectionTiming) bool { return x.GetSection() == s })
		failed := slices.ContainsFunc(r.GetErrors(), func(x *probev1.SectionError) bool { return x.GetSection() == s })
		if !timed && !failed {
			t.Errorf("section %q has neither a timing nor an error", s)
		}
	}
	if r.GetCollectedAt() == nil {
		t.Error("no collected_at")
	}
	if _, err := proto.Marshal(r); err != nil {
		t.Errorf("report does not marshal: %v", err)
	}
}

// TestCollectRealProc collects from this machine's /proc with the test
// process as the target. As root every section works.
func TestCollectRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc here")
	}
	self := os.Getpid()
	r := Collect(context.Background(), Options{TargetPID: int32(self)})
	checkComplete(t, r)
	for _, e := range r.GetErrors() {
		t.Logf("section error: %v", e)
	}
	if r.GetTarget().GetPid() != int32(self) || r.GetTarget().GetMethod() != "override" {
		t.Errorf("target = %v", r.GetTarget())
	}
	if r.GetTarget().GetKernelRelease() == "" || r.GetTarget().GetNamespaces()["mnt"] == "" {
		t.Errorf("target lacks kernel or namespaces: %v", r.GetTarget())
	}
	if len(r.GetMounts()) == 0 {
		t.Error("no mounts")
	}
	if !slices.ContainsFunc(r.GetInterfaces(), func(i *probev1.Interface) bool { return i.GetName() == "lo" }) {
		t.Errorf("interfaces %v do not include lo", r.GetInterfaces())
	}
	if len(r.GetRoutes()) == 0 {
		t.Error("no routes (the local table always has some)")
	}
	if r.GetDaemon() == nil || r.GetContainer() == nil {
		t.Errorf("daemon %v, container %v", r.GetDaemon(), r.GetContainer())
	}
	if os.Geteuid() == 0 {
		for _, s := range []string{SectionTarget, SectionInterfaces, SectionRoutes, SectionMounts} {
			for _, e := range r.GetErrors() {
				if e.GetSection() == s {
					t.Errorf("as root, section %s failed: %s", s, e.GetMessage())
				}
			}
		}
	}
	t.Logf("timings: %v", r.GetTimings())
}

// TestCollectCanceled checks that a deadline that has already passed still
// yields a complete, marshalable report.
func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Collect(ctx, Options{TargetPID: int32(os.Getpid())})
	checkComplete(t, r)
	for _, e := range r.GetErrors() {
		if strings.Contains(e.GetMessage(), "did not finish") && e.GetCode() != "Canceled" {
			t.Errorf("error %v has code %s, want Canceled", e, e.GetCode())
		}
	}
}

func TestSendRecoversPanic(t *testing.T) {
	c := &collector{results: make(chan outcome, 1)}
	c.send("mounts", time.Millisecond, func() (func(*probev1.Report), error) {
		var m map[string]int
		m["boom"]++ // a nil-map write panics
		return nil, nil
	})
	o := <-c.results
	if o.err == nil || !strings.Contains(o.err.Error(), "panic: assignment to entry in nil map") || o.elapsed < time.Millisecond {
		t.Fatalf("outcome = %+v", o)
	}
	r := &probev1.Report{}
	o.record(r)
	if len(r.GetErrors()) != 1 || r.GetErrors()[0].GetCode() != "Internal" || len(r.GetTimings()) != 1 {
		t.Errorf("recorded %v", r)
	}
}

func TestCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "/proc/1/root", Err: syscall.EACCES}, "PermissionDenied"},
		{fmt.Errorf("setns: %w", syscall.EPERM), "PermissionDenied"},
		{&fs.PathError{Op: "open", Path: "/proc/9/stat", Err: syscall.ENOENT}, "NotFound"},
		{fmt.Errorf("x: %w", errors.ErrUnsupported), "Unimplemented"},
		{context.DeadlineExceeded, "DeadlineExceeded"},
		{fmt.Errorf("late: %w", context.Canceled), "Canceled"},
		{errors.New("malformed"), "Internal"},
	} {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestSanitizeUTF8(t *testing.T) {
	bad := "dockerd\xff"
	r := &probev1.Report{
		Processes: []*probev1.Process{{Comm: bad, Argv: []string{"ok", bad}, Namespaces: map[string]string{bad: bad}}},
		Daemon:    &probev1.Daemon{ConfigRaw: bad, Config: structpb.NewStringValue("x")},
		Mounts:    []*probev1.Mount{{MountPoint: "/mnt/\xc3"}},
	}
	// structpb.NewStringValue refuses nothing, so plant the bad string
	// directly, as a bug upstream could.
	r.Daemon.Config.Kind = &structpb.Value_StringValue{StringValue: bad}
	if _, err := proto.Marshal(r); err == nil {
		t.Fatal("the test report should not marshal before sanitizing")
	}
	sanitizeUTF8(r.ProtoReflect())
	if _, err := proto.Marshal(r); err != nil {
		t.Fatalf("after sanitizing: %v", err)
	}
	p := r.GetProcesses()[0]
	if p.GetComm() != "dockerd\uFFFD" || p.GetArgv()[1] != "dockerd\uFFFD" || p.GetNamespaces()["dockerd\uFFFD"] != "dockerd\uFFFD" ||
		r.GetDaemon().GetConfig().GetStringValue() != "dockerd\uFFFD" || r.GetMounts()[0].GetMountPoint() != "/mnt/\uFFFD" {
		t.Errorf("sanitized report = %v", r)
	}
}

// BenchmarkCollect measures a full collection from this machine's /proc,
// choosing the target as the probe does.
func BenchmarkCollect(b *testing.B) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		b.Skip("no /proc here")
	}
	b.ReportAllocs()
	for b.Loop() {
		r := Collect(context.Background(), Options{Hint: &probev1.TargetHint{DockerRootDir: "/var/lib/docker"}})
		if len(r.GetMounts()) == 0 {
			b.Fatalf("no mounts: %v", r.GetErrors())
		}
	}
}
