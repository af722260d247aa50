// Package cluster owns the cluster report: one Report per node (or why a
// node has none) under the API server's facts, and the cluster checks,
// which compare nodes with one another: kernel, runtime version and flags,
// kubelet flags, CNI configuration, MTU, the routes to other nodes' pod
// CIDRs, and the host shares a hostPath volume may use. A node's own
// checks stay in its report (package checks); the checks here are pure
// functions of the nodes' reports and are table-tested.
package cluster

import (
	"errors"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Error kinds of NodeError.kind.
const (
	KindNotReady     = "not-ready"
	KindImageMissing = "image-missing"
	KindForbidden    = "forbidden"
	KindPodSecurity  = "pod-security"
	KindPodFailed    = "pod-failed"
	KindTimeout      = "timeout"
	KindProbeFailed  = "probe-failed"
)

// ErrorKind classifies a node's failure for NodeError.kind.
func ErrorKind(err error) string {
	switch {
	case errors.Is(err, kube.ErrNodeNotReady):
		return KindNotReady
	case errors.Is(err, kube.ErrImageMissing):
		return KindImageMissing
	case errors.Is(err, kube.ErrPodSecurity):
		return KindPodSecurity
	case errors.Is(err, kube.ErrForbidden):
		return KindForbidden
	case errors.Is(err, kube.ErrTimeout):
		return KindTimeout
	case errors.Is(err, kube.ErrPodFailed):
		return KindPodFailed
	}
	return KindProbeFailed
}

// Info is the node as the API server records it.
func Info(n *corev1.Node) *probev1.NodeInfo {
	if n == nil {
		return nil
	}
	ni := n.Status.NodeInfo
	info := &probev1.NodeInfo{
		KubeletVersion:          ni.KubeletVersion,
		ContainerRuntimeVersion: ni.ContainerRuntimeVersion,
		KernelVersion:           ni.KernelVersion,
		OsImage:                 ni.OSImage,
		Architecture:            ni.Architecture,
		PodCidrs:                n.Spec.PodCIDRs,
		Labels:                  n.Labels,
	}
	if len(info.PodCidrs) == 0 && n.Spec.PodCIDR != "" {
		info.PodCidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			info.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			info.InternalIps = append(info.InternalIps, a.Address)
		}
	}
	for k := range n.Labels {
		if role, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && role != "" {
			info.Roles = append(info.Roles, role)
		}
	}
	sort.Strings(info.Roles)
	return info
}

// Node builds one node's entry: its report, or its error (one line).
func Node(n kube.Node, rep *probev1.Report, err error, took time.Duration, pod string) *probev1.NodeReport {
	nr := &probev1.NodeReport{Name: n.Name, Info: Info(n.Object), DurationMs: took.Milliseconds(), Pod: pod}
	if err == nil && n.NotReady != nil {
		err = n.NotReady
	}
	if err != nil {
		nr.Error = &probev1.NodeError{Kind: ErrorKind(err), Message: err.Error()}
		return nr
	}
	nr.Report = rep
	return nr
}

// Report assembles the cluster report: nodes sorted by name, the cluster
// checks run over them.
func Report(c *probev1.Cluster, tool *probev1.Tool, nodes []*probev1.NodeReport, now time.Time) *probev1.ClusterReport {
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].GetName() < nodes[j].GetName() })
	return &probev1.ClusterReport{
		SchemaVersion: 1,
		Tool:          tool,
		Cluster:       c,
		Nodes:         nodes,
		Findings:      Checks(nodes),
		CollectedAt:   timestamppbNew(now),
	}
}
