package cluster

import (
	"context"

	"fmt"
	"io"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/kube"
	"github.com/dockprobe/dockprobe/agent/internal/probeclient"
	"github.com/dockprobe/dockprobe/agent/internal/transport"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// CollectOptions say how to probe the nodes.
type CollectOptions struct {
	Runner       *kube.Runner
	FanOut       kube.FanOutOptions
	AgentVersion string
	// Request is sent to every node's probe (nil: an empty request).
	Request *probev1.CollectRequest
	// ProbeLog gives the writer for a node's probe stderr (nil discards).
	// It should not block (see kube.ExecOptions.Stderr).
	ProbeLog func(node string) io.Writer
}

// Collect probes the nodes, at most FanOut.Concurrency at once, each under
// FanOut.NodeTimeout: the probe pod, the exec'd gRPC server, the handshake
// and the report, then the pod's deletion. A node that is not Ready gets
// its error without a pod. The result has one entry per node, in order.
func Collect(ctx context.Context, nodes []kube.Node, o CollectOptions) []*probev1.NodeReport {
	var ready []string
	byName := map[string]kube.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
		if n.NotReady == nil {
			ready = append(ready, n.Name)
		}
	}
	type outcome struct {
		rep  *probev1.Report
		pod  string
		took time.Duration
	}
	results := kube.FanOut(ctx, ready, o.FanOut, func(ctx context.Context, node string) (outcome, error) {
		start := time.Now()
		rep, pod, err := probeNode(ctx, node, o)
		return outcome{rep, pod, time.Since(start)}, err
	})
	done := map[string]kube.Result[outcome]{}
	for _, r := range results {
		done[r.Node] = r
	}
	out := make([]*probev1.NodeReport, 0, len(nodes))
	for _, n := range nodes {
		r := done[n.Name]
		out = append(out, Node(n, r.Value.rep, r.Err, r.Value.took, r.Value.pod))
	}
	return out
}

// probeNode is one node's whole run; the pod is deleted whatever happens
// (with a fresh context: the run's may be over).
func probeNode(ctx context.Context, node string, o CollectOptions) (*probev1.Report, string, error) {
	r := o.Runner
	pod, err := r.StartPod(ctx, node)
	if err != nil {
		return nil, "", err
	}
	defer r.DeletePod(pod)
	var log io.Writer = io.Discard
	if o.ProbeLog != nil {
		log = o.ProbeLog(node)
	}
	conn, err := r.Exec(ctx, pod, log)
	if err != nil {
		return nil, pod.Name, err
	}
	client, err := probeclient.Dial(transport.SingleUseDialer(conn))
	if err != nil {
		conn.Close()
		return nil, pod.Name, err
	}
	defer client.Close()
	streamErr := func(err error) error {
		// A refused exec (403, no such pod) shows to gRPC only as a
		// transport that went away: the stream's own error says why.
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-conn.Done():
			if se := conn.Err(); se != nil {
				return fmt.Errorf("node %s: %w", node, se)
			}
		case <-t.C:
		}
		return fmt.Errorf("node %s: %w", node, err)
	}
	if _, err := client.Handshake(ctx, o.AgentVersion); err != nil {
		return nil, pod.Name, streamErr(err)
	}
	req := o.Request
	if req == nil {
		req = &probev1.CollectRequest{}
	}
	rep, err := client.Collect(ctx, req)
	if err != nil {
		return nil, pod.Name, streamErr(err)
	}
	return rep, pod.Name, nil
}
