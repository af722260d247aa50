// Package kube is the Kubernetes runtime's building blocks: the connection
// to a cluster (kubeconfig, context, in-cluster), the probe pod for one
// node, waiting for it with a watch that fails fast on what will never
// heal, a net.Conn over `pods/exec` to the probe's gRPC server, the bounded
// fan-out over nodes, the sweep of pods a dead run left, and the errors a
// user can act on (forbidden, Pod Security, a missing image).
//
// Why exec and not attach: an attached container's output is also written
// to the node's container log (readable with pods/log), and the probe's
// answers are raw until the agent redacts them; an exec stream is not
// logged, and the exec'd process has its streams from its first
// instruction. So the pod's main process is the probe waiting quietly
// (`probe --wait`), and the agent execs the probe's gRPC server in it.
//
// It knows nothing of reports or the CLI: the launcher wires it in.
package kube
