// Package k8s is the e2e harness for dockprobe's Kubernetes runtime: it brings
// up a real cluster on this machine (cluster.sh: etcd, kube-apiserver and two
// nodes, each a kubelet with its own containerd, all inside network
// namespaces it creates), loads image archives onto every node, runs kubectl,
// and makes users bound to exactly the roles a test names. Use it from e2e
// tests only (it needs root and the binaries install-k8s.sh and
// e2e/tools/install-engine.sh build); unit tests use fakes.
//
// A test package uses it from its TestMain:
//
//	var cluster *k8s.Cluster
//
//	func TestMain(m *testing.M) {
//		// gate on DOCKPROBE_E2E=1 and root, as e2e does
//		os.Exit(k8s.Main(m, func(c *k8s.Cluster) { cluster = c }))
//	}
//
// and then, in tests: cluster.Kubeconfig (the admin's), cluster.Nodes (name,
// IP, kubelet and containerd PIDs, containerd socket, cgroup),
// cluster.LoadImage(ctx, "probe.tar") (e.g. from `agent image save`),
// cluster.Kubectl(ctx, "get", "pods"), cluster.Namespace(ctx, name, labels),
// cluster.UserWithRole(ctx, user, ns, role) or NewUser + BindRole and
// BindClusterRole for a kubeconfig that may do exactly what those roles allow.
//
// Every package sharing the cluster must run one at a time (go test -p 1, as
// make e2e-k8s does): the cluster is named by DOCKPROBE_E2E_ID, Up reuses a
// running one, and each package's Main takes it down at its end.
package k8s
