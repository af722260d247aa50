package kube

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
)

func testPodOptions() PodOptions {
	return PodOptions{
		Namespace: "dockprobe", Node: "worker-1", RunID: "0a1b2c3d", Image: "dockprobe/probe:v1.2.3",
		AgentHost: "LAPTOP-7 (corp)", AgentPID: 4242, Created: time.Unix(1780000000, 0),
		Deadline: 90 * time.Second, AppArmorField: true,
	}
}

func TestBuildPodLeastPrivilege(t *testing.T) {
	p := BuildPod(testPodOptions())
	s := p.Spec
	if s.NodeName != "worker-1" || !s.HostPID || s.HostNetwork || s.HostIPC || s.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("spec: node %q hostPID %v hostNetwork %v hostIPC %v restart %q", s.NodeName, s.HostPID, s.HostNetwork, s.HostIPC, s.RestartPolicy)
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		t.Error("the service account token must not be mounted")
	}
	if len(s.Tolerations) != 1 || s.Tolerations[0].Operator != corev1.TolerationOpExists || s.Tolerations[0].Key != "" || s.Tolerations[0].Effect != "" {
		t.Errorf("tolerations %+v: want one Exists toleration for every taint", s.Tolerations)
	}
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 120 {
		t.Errorf("activeDeadlineSeconds %v, want 90s + 30s", s.ActiveDeadlineSeconds)
	}
	if s.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp %v", s.SecurityContext.SeccompProfile)
	}
	if a := s.SecurityContext.AppArmorProfile; a == nil || a.Type != corev1.AppArmorProfileTypeUnconfined || len(p.Annotations) != 0 {
		t.Errorf("apparmor field %v, annotations %v", a, p.Annotations)
	}
	if len(s.Volumes) != 0 || len(s.Containers) != 1 || len(s.InitContainers) != 0 {
		t.Fatalf("volumes %d containers %d init %d", len(s.Volumes), len(s.Containers), len(s.InitContainers))
	}
	c := s.Containers[0]
	if c.Name != ContainerName || c.Image != "dockprobe/probe:v1.2.3" || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("container %q image %q pull %q", c.Name, c.Image, c.ImagePullPolicy)
	}
	if !c.Stdin || !c.StdinOnce || c.TTY {
		t.Errorf("stdin %v stdinOnce %v tty %v", c.Stdin, c.StdinOnce, c.TTY)
	}
	if got := strings.Join(append(c.Command, c.Args...), " "); got != "/probe --wait --deadline=1m30s --claim-within=8s" {
		t.Errorf("command %q", got)
	}
	// A deadline within ClaimWithin needs no claim limit.
	if got := strings.Join(WaitArgs(5*time.Second), " "); got != "--wait --deadline=5s" {
		t.Errorf("short deadline: %q", got)
	}
	sc := c.SecurityContext
	if *sc.Privileged || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("privileged %v escalation %v read-only %v", *sc.Privileged, *sc.AllowPrivilegeEscalation, *sc.ReadOnlyRootFilesystem)
	}
	if d, a := sc.Capabilities.Drop, sc.Capabilities.Add; len(d) != 1 || d[0] != "ALL" || len(a) != 2 || a[0] != "SYS_ADMIN" || a[1] != "SYS_PTRACE" {
		t.Errorf("capabilities drop %v add %v", d, a)
	}
	if c.Resources.Requests.Cpu().MilliValue() != 10 || c.Resources.Requests.Memory().Value() != 32<<20 {
		t.Errorf("requests %v", c.Resources.Requests)
	}
	l := p.Labels
	want := map[string]string{LabelManagedBy: "dockprobe", LabelRun: "0a1b2c3d", LabelAgentHost: "LAPTOP-7__corp", LabelAgentPID: "4242", LabelCreated: "1780000000"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
	for k, v := range l {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			t.Errorf("label key %q: %v", k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("label %s value %q: %v", k, v, errs)
		}
	}
}

func TestBuildPodOptions(t *testing.T) {
	o := testPodOptions()
	o.AppArmorField = false
	o.PullPolicy = corev1.PullIfNotPresent
	o.Deadline = 0
	p := BuildPod(o)
	if p.Spec.SecurityContext.AppArmorProfile != nil || p.Annotations[AnnotationAppArmor] != "unconfined" {
		t.Errorf("before 1.30 the annotation, not the field: %v %v", p.Spec.SecurityContext.AppArmorProfile, p.Annotations)
	}
	if p.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Error("a user --image keeps its pull policy")
	}
	if *p.Spec.ActiveDeadlineSeconds != int64((DefaultDeadline+deadlineGrace)/time.Second) {
		t.Errorf("default deadline: %d", *p.Spec.ActiveDeadlineSeconds)
	}
}

func TestAppArmorField(t *testing.T) {
	for _, tc := range []struct {
		major, minor string
		want         bool
	}{
		{"1", "29", false}, {"1", "30", true}, {"1", "35", true}, {"1", "27+", false}, {"1", "31+", true}, {"2", "0", true}, {"", "", true},
	} {
		if got := AppArmorField(&version.Info{Major: tc.major, Minor: tc.minor}); got != tc.want {
			t.Errorf("%s.%s: %v, want %v", tc.major, tc.minor, got, tc.want)
		}
	}
	if !AppArmorField(nil) {
		t.Error("unknown version: the field")
	}
}

func TestPodNameIsValid(t *testing.T) {
	long := strings.Repeat("very-long-node-name.", 12) + "example.com"
	for _, node := range []string{"worker-1", "ip-10-0-1-23.eu-west-1.compute.internal", "Node_With.CAPS", long, "--", long + "x"} {
		for _, seq := range []int{1, 2, 1234} {
			n := PodNameSeq(node, "0a1b2c3d", seq)
			if errs := validation.IsDNS1123Label(strings.ReplaceAll(n, ".", "-")); len(errs) > 0 || len(n) > 63 {
				t.Errorf("PodNameSeq(%q, %d) = %q (%d): %v", node, seq, n, len(n), errs)
			}
			if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
				t.Errorf("PodNameSeq(%q, %d) = %q: %v", node, seq, n, errs)
			}
		}
	}
	if PodName(long, "r") == PodName(long+"x", "r") {
		t.Error("two long node names must not share a pod name")
	}
	// A watch's second probe on a node gets a name of its own; the first
	// keeps the name the cluster report shows.
	if a, b := PodNameSeq("worker-1", "0a1b2c3d", 1), PodNameSeq("worker-1", "0a1b2c3d", 2); a != "dockprobe-worker-1-0a1b2c3d" || b != "dockprobe-worker-1-0a1b2c3d-2" {
		t.Errorf("first %q, second %q", a, b)
	}
}

func TestNewRunID(t *testing.T) {
	a, b := NewRunID(), NewRunID()
	if a == b || len(a) != 8 {
		t.Errorf("%q %q", a, b)
	}
	if _, err := strconv.ParseUint(a, 16, 32); err != nil {
		t.Error(err)
	}
}

func TestServeCommand(t *testing.T) {
	if got := strings.Join(ServeCommand(time.Minute, true), " "); got != "/probe --deadline=1m0s --notify-wait --debug" {
		t.Errorf("%q", got)
	}
}
