// Package e2e is dockprobe's end-to-end suite: it starts real engines in
// network and mount namespaces shaped like Docker Desktop's LinuxKit VM
// (lkenv/lkenv.sh), two Docker engines side by side (Debian's Docker 20.10
// and today's Engine 29, e2e/tools/install-engine.sh) and containerd-only
// layouts on containerd 1.6 and 2.4, runs the real agent binary against
// each (subtests named after the engine's own version) and against the
// machine's own engine, and asserts the source article's values and that
// both engines give the same answers. It needs root, docker.io, containerd
// and iproute2, and runs only when DOCKPROBE_E2E=1 (make e2e); when
// enabled, a missing prerequisite is a failure, never a skip.
package e2e
