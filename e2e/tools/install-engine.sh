#!/usr/bin/env bash
# install-engine.sh - build and cache today's Docker engine (dockerd v29,
# containerd 2, runc) from the Go module proxy, beside Debian's Docker 20.10.
#
# Debian ships Docker 20.10 (API 1.41, 2021); Docker Desktop ships Engine 29
# (containerd image store, runc >= 1.3, a time namespace that runc 1.1 cannot
# create). The e2e suite runs every Docker test on both; this script provides
# the second one. Versions are pinned here and only here.
#
# The binaries go to a cache OUTSIDE the repository, keyed by the versions, so
# a second run (CI on the same machine) takes seconds; a fresh machine builds
# them (~12 minutes on 2 cores, dockerd being most of it).
#
# Prints nothing on stdout but the cache's bin directory, so callers can do
#   ENGINE_BIN=$(e2e/tools/install-engine.sh)
#
# Settings (environment):
#   DOCKPROBE_CACHE  cache root (default /var/cache/dockprobe)
set -euo pipefail

# --- the pinned versions (the one place) -----------------------------------
DOCKERD_MODULE=github.com/moby/moby/v2
DOCKERD_VERSION=v2.0.0-beta.24      # Docker Engine 29 (API 1.52+)
# The engine release that module version is: moby tags one commit both
# v2.0.0-beta.N and docker-vX.Y.Z, and its releases/versions.yaml names that
# release as "next" (checked below). go install does not stamp it (dockerd
# would call itself "library-import"), so it is set at link time, as Docker's
# own build does.
DOCKER_ENGINE_VERSION=29.8.1
CONTAINERD_VERSION=v2.4.2
RUNC_VERSION=v1.5.3
# ---------------------------------------------------------------------------

CACHE=${DOCKPROBE_CACHE:-/var/cache/dockprobe}
key="dockerd-${DOCKERD_VERSION}_containerd-${CONTAINERD_VERSION}_runc-${RUNC_VERSION}"
BIN="$CACHE/engine/$key/bin"

log() { printf 'install-engine: %s\n' "$*" >&2; }

want=(dockerd docker-proxy containerd containerd-shim-runc-v2 runc)
have_all() {
	local b
	for b in "${want[@]}"; do [[ -x $BIN/$b ]] || return 1; done
	dockerd_stamped
}
# A dockerd built without its version (an older run of this script) is redone.
dockerd_stamped() {
	[[ $("$BIN/dockerd" --version 2>/dev/null) == "Docker version $DOCKER_ENGINE_VERSION,"* ]]
}
if have_all; then
	log "cached: $BIN"
	echo "$BIN"
	exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not on PATH"; exit 1; }
# runc needs cgo and libseccomp: without the seccomp tag every v29 start fails
# ("seccomp: config provided but seccomp not supported").
pkg-config --exists libseccomp 2>/dev/null || {
	log "libseccomp-dev and pkg-config are needed to build runc (apt-get install libseccomp-dev pkg-config)"
	exit 1
}

mkdir -p "$BIN"
tmpbin=$(mktemp -d "$CACHE/engine/.build.XXXXXX")
trap 'rm -rf "$tmpbin"' EXIT
export GOWORK=off GOTOOLCHAIN=local

build() { # name, then go install arguments
	local name=$1; shift
	if [[ -x $BIN/$name ]]; then return 0; fi
	local t0=$SECONDS
	log "building $name ($*)"
	GOBIN=$tmpbin go install "$@" >&2
	log "built $name in $((SECONDS - t0)) s"
}

# Built one after the other: on 2 cores, parallel builds only thrash.
CGO_ENABLED=1 build runc -tags seccomp "github.com/opencontainers/runc@$RUNC_VERSION"
CGO_ENABLED=0 build containerd "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION"
CGO_ENABLED=0 build containerd-shim-runc-v2 "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
modsrc=$(cd "$tmpbin" && GOFLAGS=-mod=mod go mod download -json "$DOCKERD_MODULE@$DOCKERD_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
next=$(awk '$1 == "next:" { gsub(/"/, "", $2); print $2 }' "$modsrc/releases/versions.yaml" 2>/dev/null)
[[ $next == "$DOCKER_ENGINE_VERSION" ]] || {
	log "$DOCKERD_MODULE@$DOCKERD_VERSION is release '$next', not $DOCKER_ENGINE_VERSION: fix DOCKER_ENGINE_VERSION"
	exit 1
}
[[ -x $BIN/dockerd ]] && ! dockerd_stamped && rm -f "$BIN/dockerd"
GOFLAGS=-mod=mod CGO_ENABLED=0 build dockerd -ldflags "-X $DOCKERD_MODULE/dockerversion.Version=$DOCKER_ENGINE_VERSION" "$DOCKERD_MODULE/cmd/dockerd@$DOCKERD_VERSION"
GOFLAGS=-mod=mod CGO_ENABLED=0 build docker-proxy "$DOCKERD_MODULE/cmd/docker-proxy@$DOCKERD_VERSION"

# Moved into place only when complete, so an interrupted build is redone.
for b in "${want[@]}"; do
	[[ -x $BIN/$b ]] && continue
	[[ -x $tmpbin/$b ]] || { log "build of $b produced no binary"; exit 1; }
	mv -f "$tmpbin/$b" "$BIN/$b"
done
log "installed in $BIN"
echo "$BIN"
