package kube

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
)

// Labels on every probe pod. The sweep deletes only pods that carry
// LabelManagedBy=ManagedBy: never anyone else's.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "dockprobe"
	LabelRun       = "io.dockprobe.run"
	LabelAgentHost = "io.dockprobe.agent-host"
	LabelAgentPID  = "io.dockprobe.agent-pid"
	// LabelCreated is the creation time in Unix seconds, so that a sweep
	// can tell a stale pod by its labels alone.
	LabelCreated = "io.dockprobe.created"
	// AnnotationAppArmor is the pre-1.30 way to ask for an unconfined
	// AppArmor profile (deprecated from 1.30, where the field is GA).
	AnnotationAppArmor = "container.apparmor.security.beta.kubernetes.io/" + ContainerName
)

// The probe's container and binary.
const (
	ContainerName = "probe"
	ProbePath     = "/probe"
	// DefaultNamespace is where deploy/kubernetes puts the namespace and
	// the role.
	DefaultNamespace = "dockprobe"
	// DefaultDeadline bounds one node's probe: the waiting main process
	// exits then, and the pod's activeDeadlineSeconds is a little later.
	DefaultDeadline = 2 * time.Minute
	// deadlineGrace is how long after the probe's own deadline the
	// kubelet's backstop (activeDeadlineSeconds) fires.
	deadlineGrace = 30 * time.Second
)

// PodOptions describes one node's probe pod.
type PodOptions struct {
	Namespace string
	Node      string
	// RunID ties the pods of one agent run together (NewRunID).
	RunID string
	// Image is the probe image reference. With the default pull policy
	// (Never) it must already be on the node (`agent image save`).
	Image      string
	PullPolicy corev1.PullPolicy // empty: Never
	AgentHost  string
	AgentPID   int
	Created    time.Time // zero: no created label (the deploy/ example)
	// Deadline is when the waiting probe exits by itself (DefaultDeadline
	// when zero); activeDeadlineSeconds is 30 s later.
	Deadline time.Duration
	// AppArmorField selects the appArmorProfile field (servers 1.30 and
	// later) over the annotation (older servers); see AppArmorField.
	AppArmorField bool
}

// NewRunID returns a short random run identifier (8 hex digits), valid as
// a label value and in a pod name.
func NewRunID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a fixed-width
		// fallback keeps the name valid.
		return strconv.FormatInt(time.Now().UnixNano()&0xffffffff, 16)
	}
	return hex.EncodeToString(b[:])
}

// AppArmorField reports whether a server of this version takes the
// appArmorProfile field (GA in 1.30); unknown versions get the field.
func AppArmorField(v *version.Info) bool {
	if v == nil {
		return true
	}
	major, err1 := strconv.Atoi(strings.TrimRight(v.Major, "+"))
	minor, err2 := strconv.Atoi(strings.TrimRight(v.Minor, "+"))
	if err1 != nil || err2 != nil {
		return true
	}
	return major > 1 || (major == 1 && minor >= 30)
}

// PodName is the probe pod's name for a node and run:
// dockprobe-<node>-<run>, the node part shortened (with a hash, so two
// long names stay apart) to keep the name a valid 63-character host name.
func PodName(node, runID string) string { return PodNameSeq(node, runID, 1) }

// PodNameSeq is the name of a run's seq-th pod on a node (a watch starts a
// new probe when it loses one, while the old pod may still be
// terminating): PodName for the first, then dockprobe-<node>-<run>-<seq>.
func PodNameSeq(node, runID string, seq int) string {
	n := sanitizeName(node)
	run := sanitizeName(runID)
	if seq > 1 {
		run += "-" + strconv.Itoa(seq)
	}
	maxNode := 63 - len("dockprobe-") - 1 - max(len(run), 8) - 1
	if len(n) > maxNode-7 {
		sum := sha256.Sum256([]byte(node))
		n = strings.TrimRight(n[:maxNode-7], "-.") + "-" + hex.EncodeToString(sum[:3])
	}
	return "dockprobe-" + n + "-" + run
}

// sanitizeName keeps [a-z0-9.-] and trims non-alphanumerics at the ends.
func sanitizeName(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.':
			b = append(b, c)
		default:
			b = append(b, '-')
		}
	}
	out := strings.Trim(string(b), "-.")
	if out == "" {
		out = "x"
	}
	return out
}

// LabelValue makes s a valid label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending alphanumeric.
func LabelValue(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < validation.LabelValueMaxLength; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return strings.Trim(string(b), "-_.")
}

// deadline returns o.Deadline or the default.
func (o PodOptions) deadline() time.Duration {
	if o.Deadline <= 0 {
		return DefaultDeadline
	}
	return o.Deadline
}

// ClaimWithin is how long a probe pod's waiting main process waits for
// the agent's exec once it has started: an agent killed between the pod's
// creation and its exec never comes, and its pod must not wait out a
// watch's deadline of hours. The agent execs as soon as it sees the pod
// running, within a second or two even on a loaded node. The issue's
// promise is no probe pod Running 10 s after the agent is killed: 8 s
// keeps it with room for the pod's own end (CI caught a kill that landed
// between create and exec with a minute here).
const ClaimWithin = 8 * time.Second

// WaitArgs are the pod's main process arguments: the probe waiting
// quietly until its deadline, SIGTERM, stdin EOF, the end of the exec'd
// server, or ClaimWithin without one (when that comes before the
// deadline).
func WaitArgs(deadline time.Duration) []string {
	args := []string{"--wait", "--deadline=" + deadline.String()}
	if ClaimWithin < deadline {
		args = append(args, "--claim-within="+ClaimWithin.String())
	}
	return args
}

// ServeCommand is what the agent execs in the pod: the probe's gRPC
// server on the exec stream's stdin/stdout, bounded by deadline.
func ServeCommand(deadline time.Duration, debug bool) []string {
	cmd := []string{ProbePath, "--deadline=" + deadline.String(), "--notify-wait"}
	if debug {
		cmd = append(cmd, "--debug")
	}
	return cmd
}

// BuildPod is the one place the probe pod is shaped; deploy/kubernetes's
// example is generated from it (cmd/genkube). The pod has the Docker
// launcher's least privileges: hostPID, capabilities ALL dropped but
// SYS_ADMIN and SYS_PTRACE, not privileged, no privilege escalation, a
// read-only root, no service account token, seccomp RuntimeDefault (which
// allows setns and mount with CAP_SYS_ADMIN) and AppArmor unconfined
// (the runtime's default profile denies mount and ptrace of host
// processes). It tolerates every taint so control-plane nodes are probed
// too, bypasses the scheduler with nodeName, and never restarts.
func BuildPod(o PodOptions) *corev1.Pod {
	pull := o.PullPolicy
	if pull == "" {
		pull = corev1.PullNever
	}
	deadline := o.deadline()
	active := int64(math.Ceil((deadline + deadlineGrace).Seconds()))
	labels := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelRun:       LabelValue(o.RunID),
	}
	if o.AgentHost != "" {
		labels[LabelAgentHost] = LabelValue(o.AgentHost)
	}
	if o.AgentPID > 0 {
		labels[LabelAgentPID] = strconv.Itoa(o.AgentPID)
	}
	if !o.Created.IsZero() {
		labels[LabelCreated] = strconv.FormatInt(o.Created.Unix(), 10)
	}
	no, yes := false, true
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      PodName(o.Node, o.RunID),
			Namespace: o.Namespace,
			Labels:    labels,
		},
		Spec: corev1.PodSpec{
			NodeName:                     o.Node,
			HostPID:                      true,
			RestartPolicy:                corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:        &active,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			// Every taint, NoExecute included: a control-plane node is
			// probed too, and the pod is not evicted mid-run.
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            ContainerName,
				Image:           o.Image,
				ImagePullPolicy: pull,
				Command:         []string{ProbePath},
				Args:            WaitArgs(deadline),
				Stdin:           true,
				StdinOnce:       true,
				TTY:             false,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("10m"),
						corev1.ResourceMemory: resource.MustParse("32Mi"),
					},
					Limits: corev1.ResourceList{
						corev1.ResourceMemory: resource.MustParse("256Mi"),
					},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					Privileged:               &no,
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					RunAsUser:                new(int64(0)),
					Capabilities: &corev1.Capabilities{
						Drop: []corev1.Capability{"ALL"},
						Add:  []corev1.Capability{"SYS_ADMIN", "SYS_PTRACE"},
					},
				},
			}},
		},
	}
	if o.AppArmorField {
		pod.Spec.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	} else {
		pod.Annotations = map[string]string{AnnotationAppArmor: "unconfined"}
	}
	return pod
}

// describeNode is the node part of an error message.
func describeNode(node string) string { return fmt.Sprintf("node %s", node) }
