package kube

import corev1 "k8s.io/api/core/v1"

// TestPodOptions are pod_test's options, for the external tests (package
// kube_test, which use the fake clientset through kubetest: kubetest
// imports kube, so kube's own tests cannot import it).
var TestPodOptions = testPodOptions

// PodFor is Runner.podFor, for the external tests.
func (r *Runner) PodFor(s PodStart) *corev1.Pod { return r.podFor(s) }
