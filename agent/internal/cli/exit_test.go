package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Every failure class has its own exit code, and wrapping keeps it.
func TestExitCodesAreDistinct(t *testing.T) {
	permission := engine.Unreachable("unix:///var/run/docker.sock", &os.SyscallError{Syscall: "connect", Err: syscall.EACCES})
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, ExitOK},
		{"usage", fmt.Errorf("%w: bad flag", ErrUsage), ExitUsage},
		{"engine not running", engine.Unreachable("unix:///nope.sock", &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}), ExitUnreachable},
		{"permission denied", permission, ExitEnginePermission},
		{"image load refused", fmt.Errorf("%w: denied", launch.ErrImageLoad), ExitProbeBlocked},
		{"create refused", fmt.Errorf("%w: no", launch.ErrCreate), ExitProbeBlocked},
		{"isolation", fmt.Errorf("%w: sysbox", launch.ErrIsolation), ExitIsolation},
		{"windows", fmt.Errorf("%w: switch", ErrNotLinuxEngine), ExitWindowsEngine},
		{"protocol", fmt.Errorf("%w: 2 vs 1", probeclient.ErrProtocolMismatch), ExitProtocol},
		{"timeout", fmt.Errorf("collect: %w", probeclient.ErrTimeout), ExitTimeout},
		{"deadline", context.DeadlineExceeded, ExitTimeout},
		{"probe gone", fmt.Errorf("collect: %w", probeclient.ErrProbeGone), ExitProbeFailed},
		{"target gone", fmt.Errorf("%w (pid 7)", ErrTargetGone), ExitTargetGone},
		{"kubernetes forbidden", fmt.Errorf("node a: %w", &kube.ForbiddenError{Verb: "create", Resource: "pods/exec"}), ExitForbidden},
		{"some nodes failed", fmt.Errorf("%w: 1 of 2", ErrNodesFailed), ExitNodesFailed},
		{"interrupted", context.Canceled, ExitInterrupted},
		{"other", errors.New("boom"), ExitFailure},
	}
	seen := map[int]string{}
	shared := map[int]bool{ExitProbeBlocked: true, ExitTimeout: true} // several causes, one class
	for _, tt := range tests {
		got := ExitCode(tt.err)
		if got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
		if prev, ok := seen[got]; ok && !shared[got] {
			t.Errorf("%s and %s share exit code %d", prev, tt.name, got)
		}
		seen[got] = tt.name
	}
}

func TestTargetGone(t *testing.T) {
	rep := &probev1.Report{
		Target: &probev1.Target{Pid: 42},
		Errors: []*probev1.SectionError{
			{Section: "processes", Code: "NotFound", Message: "a process went away"},
			{Section: "mounts", Code: "NotFound", Message: "open /proc/42/mountinfo: no such file or directory\nmore"},
		},
	}
	err := targetGone(rep)
	if !errors.Is(err, ErrTargetGone) {
		t.Fatalf("targetGone = %v", err)
	}
	if msg := err.Error(); msg != "the target process exited during collection (pid 42; section mounts: open /proc/42/mountinfo: no such file or directory); the report is partial: run again" {
		t.Errorf("message = %q", msg)
	}
	rep.Errors = rep.Errors[:1]
	if err := targetGone(rep); err != nil {
		t.Errorf("a vanished non-target process counts as target gone: %v", err)
	}
	rep.Errors = []*probev1.SectionError{{Section: "daemon", Code: "PermissionDenied", Message: "x"}}
	if err := targetGone(rep); err != nil {
		t.Errorf("a permission error counts as target gone: %v", err)
	}
}
