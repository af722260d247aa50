package cli

import (
	"context"
	"errors"
	"io/fs"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
	"github.com/dockprobe/dockprobe/agent/internal/engine"
	"github.com/dockprobe/dockprobe/agent/internal/imagesave"
	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/kubelaunch"
	"github.com/dockprobe/dockprobe/agent/internal/launch"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
)

// Exit codes. Scripts depend on them: never renumber, only add.
const (
	ExitOK           = 0 // a report was produced (it may list failed sections)
	ExitFailure      = 1 // an unexpected failure
	ExitUsage        = 2 // bad command line or configuration
	ExitUnreachable  = 3 // the engine did not answer
	ExitProbeBlocked = 4 // the engine refused to load, create or start the probe
	ExitProtocol     = 5 // agent and probe speak different protocol versions
	ExitTimeout      = 6 // the probe did not answer in time
	ExitProbeFailed  = 7 // the probe stopped answering mid-run
	// Added for issue 5; each names one failure class of the old 3 or 4
	// more precisely (a script that tested for 3 or 4 sees a new code).
	ExitEnginePermission = 8  // the engine's socket or pipe refused us (permissions)
	ExitIsolation        = 9  // Enhanced Container Isolation forbids the probe's --pid=host
	ExitWindowsEngine    = 10 // the engine is in Windows containers mode
	ExitTargetGone       = 11 // the target process exited during collection (partial report)
	ExitDiffers          = 12 // `agent diff`: the two reports differ
	// Added for the Kubernetes runtime (issue 15).
	ExitForbidden    = 13 // the Kubernetes API refused a verb on a resource (RBAC)
	ExitNodesFailed  = 14 // some nodes have no report; the cluster report (printed) has each one's error
	ExitDoctorErrors = 20 // `agent doctor`: a check found an error-severity problem
	// A run ended by a signal exits 128 plus its number, whatever stage
	// it was in (cli.Main): SIGINT (Ctrl-C) 130, SIGTERM 143, SIGHUP 129.
	ExitInterrupted = 130
	ExitTerminated  = 143
	ExitHangUp      = 129
)

// ErrUsage marks a bad command line.
var ErrUsage = errors.New("usage")

// Silent reports whether err is a result the command already printed, so
// that main should not print it again.
func Silent(err error) bool {
	return errors.Is(err, ErrDiffers) || errors.Is(err, ErrDoctorFindings)
}

// ExitCode maps an error from Run to the process exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrDiffers):
		return ExitDiffers
	case errors.Is(err, ErrDoctorFindings):
		return ExitDoctorErrors
	case errors.Is(err, ErrNodesFailed):
		return ExitNodesFailed
	case errors.Is(err, kube.ErrForbidden):
		return ExitForbidden
	case errors.Is(err, kube.ErrImageMissing), errors.Is(err, kube.ErrPodFailed):
		return ExitProbeBlocked
	case errors.Is(err, kube.ErrTimeout):
		return ExitTimeout
	case errors.Is(err, kube.ErrNodeNotReady):
		return ExitUnreachable
	case errors.Is(err, ErrUsage), errors.Is(err, imagesave.ErrUsage),
		errors.Is(err, kube.ErrConfig), errors.Is(err, kube.ErrNoNodes), errors.Is(err, kubelaunch.ErrNoNode),
		errors.Is(err, endpoint.ErrContextNotFound), errors.Is(err, endpoint.ErrInvalidContext),
		errors.Is(err, endpoint.ErrInvalidHost), errors.Is(err, endpoint.ErrUnsupportedHost),
		errors.Is(err, endpoint.ErrConflictingOptions), errors.Is(err, endpoint.ErrInvalidAPIVersion),
		errors.Is(err, engine.ErrTLSConfig):
		return ExitUsage
	case errors.Is(err, engine.ErrEngineUnreachable) && errors.Is(err, fs.ErrPermission):
		return ExitEnginePermission
	case errors.Is(err, engine.ErrEngineUnreachable), errors.Is(err, engine.ErrUnsupportedEngine):
		return ExitUnreachable
	case errors.Is(err, launch.ErrIsolation):
		return ExitIsolation
	case errors.Is(err, ErrNotLinuxEngine):
		return ExitWindowsEngine
	case errors.Is(err, ErrTargetGone):
		return ExitTargetGone
	case errors.Is(err, launch.ErrImageLoad), errors.Is(err, launch.ErrCreate),
		errors.Is(err, launch.ErrStart), errors.Is(err, launch.ErrAttach),
		errors.Is(err, probeimage.ErrNoBinary):
		return ExitProbeBlocked
	case errors.Is(err, probeclient.ErrProtocolMismatch):
		return ExitProtocol
	case errors.Is(err, probeclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	case errors.Is(err, probeclient.ErrProbeGone):
		return ExitProbeFailed
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return ExitFailure
}
