#!/usr/bin/env bash
# install-k8s.sh - build and cache kube-apiserver, kubelet and kubectl from the
# Go module proxy, for the real two-node cluster the Kubernetes e2e tests run
# against (e2e/k8s/cluster.sh).
#
# There is no registry and no release download here, only the Go module proxy.
# k8s.io/kubernetes is not meant to be required as a module: its go.mod
# replaces every staging module (k8s.io/api, k8s.io/client-go, ...) with a
# directory inside its own tree, and replaces do not carry over to a module
# that requires it. So a throw-away module requires k8s.io/kubernetes and
# replaces each of those staging modules with its published v0.X.Y twin; the
# list is read from k8s.io/kubernetes's own go.mod, so it follows the version.
#
# The binaries go to a cache OUTSIDE the repository, keyed by the version, so
# a second run (CI on the same machine) takes a second; a fresh machine builds
# them (~12 minutes on 2 cores, kube-apiserver being most of it).
#
# Prints nothing on stdout but the cache's bin directory, so callers can do
#   K8S_BIN=$(e2e/k8s/install-k8s.sh)
#
# Settings (environment):
#   DOCKPROBE_CACHE  cache root (default /var/cache/dockprobe)
set -euo pipefail

# --- the pinned version (the one place) ------------------------------------
KUBERNETES_VERSION=v1.35.4
# ---------------------------------------------------------------------------

CACHE=${DOCKPROBE_CACHE:-/var/cache/dockprobe}
BIN="$CACHE/k8s/$KUBERNETES_VERSION/bin"
want=(kube-apiserver kubelet kubectl)

log() { printf 'install-k8s: %s\n' "$*" >&2; }

have_all() {
	local b
	for b in "${want[@]}"; do [[ -x $BIN/$b ]] || return 1; done
}
if have_all; then
	log "cached: $BIN"
	echo "$BIN"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH (Go 1.25 or later)"; exit 1; }
export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

mkdir -p "$BIN"
work=$(mktemp -d "$CACHE/k8s/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$SECONDS

# k8s.io/kubernetes's go.mod: its staging replaces are the list to mirror.
kmod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" 2>/dev/null |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[[ -n $kmod && -f $kmod ]] || { log "cannot fetch k8s.io/kubernetes@$KUBERNETES_VERSION's go.mod from the module proxy"; exit 1; }
staging_version=v0.${KUBERNETES_VERSION#v1.}
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$kmod")
((${#staging[@]} > 10)) || { log "found only ${#staging[@]} staging modules in $kmod"; exit 1; }

{
	echo "module dockprobe.local/k8sbuild"
	echo
	echo "go $(sed -n 's/^go //p' "$kmod" | head -n1)"
	echo
	echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
	echo
	echo "replace ("
	for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
	echo ")"
} >"$work/go.mod"
log "building ${want[*]} $KUBERNETES_VERSION (${#staging[@]} staging modules at $staging_version)"

# The version the binaries report (kubectl version, the node's kubeletVersion,
# the server's /version), as Kubernetes' own build (hack/lib/version.sh) sets it.
minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
	ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

pkgs=()
for b in "${want[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
(cd "$work" && go build -trimpath -ldflags "-s -w $ldflags" -o "$work/out/" "${pkgs[@]}") >&2

# Moved into place only when complete, so an interrupted build is redone.
for b in "${want[@]}"; do
	[[ -x $work/out/$b ]] || { log "build of $b produced no binary"; exit 1; }
	mv -f "$work/out/$b" "$BIN/$b"
done
log "built in $((SECONDS - t0)) s; installed in $BIN"
echo "$BIN"
