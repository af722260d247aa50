package kube

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Selection is which nodes to probe: exactly one of Node (--node),
// Selector (--selector, a label selector) or All (--all-nodes).
type Selection struct {
	Node     string
	Selector string
	All      bool
}

// Validate says what is wrong with the selection, as a usage error.
func (s Selection) Validate() error {
	n := 0
	for _, set := range []bool{s.Node != "", s.Selector != "", s.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: choose the nodes with exactly one of --node NAME, --selector LABELS or --all-nodes", ErrConfig)
	}
	if s.Selector != "" {
		if _, err := labels.Parse(s.Selector); err != nil {
			return fmt.Errorf("%w: --selector %q: %w", ErrConfig, s.Selector, err)
		}
	}
	return nil
}

// Node is one selected node: its name, and why it will not be probed
// (NotReady) if so.
type Node struct {
	Name     string
	NotReady error
	Object   *corev1.Node
}

// SelectNodes lists the nodes of a selection, sorted by name. A node that
// is not Ready is returned with NotReady set, so that it gets its own
// error entry while the others are probed.
func SelectNodes(ctx context.Context, cs API, s Selection) ([]Node, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var items []corev1.Node
	if s.Node != "" {
		n, err := cs.CoreV1().Nodes().Get(ctx, s.Node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: node %q (list them with `kubectl get nodes`)", ErrNoNodes, s.Node)
		}
		if err != nil {
			return nil, apiError(err, "get", "nodes", "")
		}
		items = []corev1.Node{*n}
	} else {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: s.Selector})
		if err != nil {
			return nil, apiError(err, "list", "nodes", "")
		}
		items = list.Items
		if len(items) == 0 {
			if s.Selector != "" {
				return nil, fmt.Errorf("%w: selector %q", ErrNoNodes, s.Selector)
			}
			return nil, fmt.Errorf("%w: the cluster lists no nodes", ErrNoNodes)
		}
	}
	out := make([]Node, 0, len(items))
	for i := range items {
		n := &items[i]
		out = append(out, Node{Name: n.Name, NotReady: notReady(n), Object: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// notReady says why a node cannot be probed, or nil.
func notReady(n *corev1.Node) error {
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return nil
		}
		return fmt.Errorf("%w: %s is %s (%s)", ErrNodeNotReady, describeNode(n.Name), readyWord(c.Status), joinNonEmpty(": ", c.Reason, c.Message))
	}
	return fmt.Errorf("%w: %s reports no Ready condition (its kubelet never registered it)", ErrNodeNotReady, describeNode(n.Name))
}

func readyWord(s corev1.ConditionStatus) string {
	if s == corev1.ConditionUnknown {
		return "unreachable (Ready=Unknown)"
	}
	return "NotReady"
}
