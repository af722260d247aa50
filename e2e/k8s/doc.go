// Package k8s is the e2e harness for dockprobe's Kubernetes runtime: it brings
// up a real cluster on this machine (cluster.sh: etcd, kube-apiserver and two
// nodes, each a kubelet with its own containerd, all inside network
// namespaces it creates), loads image archives onto every node, runs kubectl,
// and makes users bound to exactly the roles a test names. Use it from e2e
// tests only (it needs root and the binaries install-k8s.sh and
// e2e/tools/install-engine.sh build); unit tests use fakes.
package k8s
