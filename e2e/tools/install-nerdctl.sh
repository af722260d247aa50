#!/usr/bin/env bash
# install-nerdctl.sh - build nerdctl from the Go module proxy and install it.
#
# nerdctl v2 needs containerd 2 APIs and does not build from the proxy here;
# v1.7.x builds from a throw-away module and speaks to Debian's containerd 1.6.
# Idempotent: does nothing when the wanted version is already installed.
#
# Settings (environment):
#   NERDCTL_VERSION  module version to build      (default v1.7.7)
#   NERDCTL_BIN      where to install the binary  (default /usr/local/bin/nerdctl)
set -euo pipefail

NERDCTL_VERSION=${NERDCTL_VERSION:-v1.7.7}
NERDCTL_BIN=${NERDCTL_BIN:-/usr/local/bin/nerdctl}

log() { printf 'install-nerdctl: %s\n' "$*" >&2; }

[[ $NERDCTL_VERSION =~ ^v1\.[0-9]+\.[0-9]+$ ]] || {
	log "NERDCTL_VERSION must be a v1.x.y version (v2 does not build here), got '$NERDCTL_VERSION'"
	exit 2
}

# "nerdctl version" wants a containerd to talk to; the client version is also
# what "--version" prints, without any daemon.
if [[ -x $NERDCTL_BIN ]] && [[ $("$NERDCTL_BIN" --version 2>/dev/null) == "nerdctl version ${NERDCTL_VERSION#v}" ]]; then
	log "$NERDCTL_BIN is already $NERDCTL_VERSION"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	log "go is not on PATH"
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export GOFLAGS=-mod=mod GOWORK=off
log "building nerdctl $NERDCTL_VERSION from the Go module proxy (a few minutes on a cold cache)"
go mod init dockprobe.invalid/nerdctl-build 2>/dev/null || { log "go mod init failed in $tmp"; exit 1; }
go get "github.com/containerd/nerdctl@$NERDCTL_VERSION" >/dev/null
# The version nerdctl prints is a link-time variable, as its Makefile sets it.
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/containerd/nerdctl/pkg/version.Version=$NERDCTL_VERSION" \
	-o "$tmp/nerdctl" github.com/containerd/nerdctl/cmd/nerdctl
install -m 0755 "$tmp/nerdctl" "$NERDCTL_BIN"
log "installed $("$NERDCTL_BIN" --version) at $NERDCTL_BIN"
