// Package e2e is dockprobe's end-to-end suite: it starts a real second
// dockerd and containerd in network and mount namespaces shaped like Docker
// Desktop's LinuxKit VM (lkenv/lkenv.sh), runs the real agent binary against
// it and against the machine's own engine, and asserts the source article's
// values. It needs root, docker.io, containerd and iproute2, and runs only
// when DOCKPROBE_E2E=1 (make e2e); when enabled, a missing prerequisite is a
// failure, never a skip.
package e2e
