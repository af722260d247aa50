package kube

// TestPodOptions are pod_test's options, for the external tests (package
// kube_test, which use the fake clientset through kubetest: kubetest
// imports kube, so kube's own tests cannot import it).
var TestPodOptions = testPodOptions
