#!/usr/bin/env bash
# lkenv.sh - a throw-away "Docker Desktop LinuxKit VM" look-alike for dockprobe's e2e tests.
#
# Usage: lkenv.sh up|down|status|env
#        lkenv.sh exec CMD...   run CMD inside the environment's netns + mount namespace
#   eval "$(lkenv.sh env)" gives DOCKER_HOST, LK_DOCKERD_PID, LK_CONTAINERD_PID, ...
#
# What it builds (all values are the ones the source article shows for Docker
# Desktop's LinuxKit VM; dockprobe's tests assert them):
#
#   * a network namespace (default name "dockprobe-lk", /var/run/netns/NAME) with
#       lo         up
#       eth0       192.168.65.3/24   veth; its peer "vm-host0" stays in the same netns
#                                    (both up, so eth0 has carrier)
#       services1  192.168.65.6/32   veth; peer "services1-p" also in the netns
#       cni0       10.1.0.1/16       bridge (admin up; no ports, so NO-CARRIER like an
#                                    idle bridge)
#       default route via 192.168.65.1 dev eth0 (onlink)
#     docker0 (172.17.0.1/16) is created by the engine itself.  Nothing in the netns is
#     connected to the host: traffic to 192.168.65.1 ends in vm-host0 and is dropped.
#
#   * a private mount namespace (unshare --mount --propagation private), kept alive by a
#     "holder" process (sleep), in which
#       /run       fresh tmpfs (so /run/containerd, /var/run/docker*, /run/docker ... are
#                  isolated from the host's; /var/run is a symlink to /run)
#       /mnt       fresh tmpfs
#       /run/desktop/mnt/host/{c,d,wsl,wslg}  bind mounts of $STATE/drives/X, made rshared
#       /mnt/host/{c,d,wsl,wslg}              bind mounts of the same dirs, left private
#                  -> same content, different mount ids and propagation (shared:N vs none),
#                     which is exactly the article's question
#       /run/config/docker/daemon.json        Docker Desktop-like, valid 20.10 keys only
#     Each drive directory holds a marker file "lkenv-drive" containing "drive X".
#
#   * containerd (own config, in the schema of its version: cri disabled, address
#     /run/containerd/containerd.sock, root $STATE/containerd on disk, state
#     /run/containerd in the tmpfs) and
#   * dockerd, started with exactly the article's flags first
#       --config-file /run/config/docker/daemon.json
#       --containerd /run/containerd/containerd.sock --pidfile /run/desktop/docker.pid
#       --swarm-default-advertise-addr=192.168.65.3 --host-gateway-ip 192.168.65.254
#     followed by what keeps it apart from any system dockerd:
#       -H unix://$STATE/docker.sock   (reachable from the host mount namespace)
#       -H unix:///var/run/docker.sock (the default path, inside the private /run tmpfs)
#       --data-root $STATE/docker --exec-root /run/docker (inside the tmpfs)
#       --cgroup-parent /NAME          (containers' cgroups, removed again by down)
#     iptables stays on (default): the rules land in the private netns only.
#
# Processes share the host PID namespace on purpose (dockprobe's probe uses --pid=host).
# Both daemons are entered with nsenter --net=/var/run/netns/NAME (never "ip netns exec",
# which remounts /sys and hides the cgroup mounts dockerd needs).  Nothing depends on
# PID 1 or on the system dockerd, and nothing is pulled: no registry is contacted.
#
# Settings (environment):
#   LK_NETNS   netns name                     (default dockprobe-lk)
#   LK_STATE   state dir, removed by down     (default /var/lib/dockprobe-lk)
#   LK_TIMEOUT seconds up waits for the engine (default 60)
#   LK_CGROUP_PARENT  dockerd --cgroup-parent (default /$LK_NETNS)
#   LK_EXEC_ROOT      dockerd --exec-root     (default /run/docker, inside the tmpfs)
#   LK_DOCKERD, LK_CONTAINERD, LK_DOCKER_CLI  binaries (defaults: /usr/sbin/dockerd,
#                                             /usr/bin/containerd, docker from PATH)
#   LK_ENGINE_BIN  a directory of engine binaries (e2e/tools/install-engine.sh's:
#                  dockerd, docker-proxy, containerd, containerd-shim-runc-v2, runc),
#                  put first on both daemons' PATH so that containerd starts its own
#                  shim and runc and dockerd its own docker-proxy; LK_DOCKERD and
#                  LK_CONTAINERD then default to its dockerd and containerd
#   LK_KEEP_ON_FAILURE=1  do not tear down after a failed up (for debugging)
#   LK_DAEMON_JSON        replaces the daemon.json content (default: the Desktop-like one)
#   LK_EXTRA_DOCKERD_ARGS more dockerd arguments, split on blanks, after ours
#                         (both opt-in, for tests that plant values, e.g. secrets)
#   LK_RUNTIME  docker (default) or containerd: the containerd-only layout of
#               Rancher Desktop, Lima, Finch or colima (containerd alone, no
#               dockerd, driven by nerdctl); everything else is the same
#
# nerdctl (or ctr) must run inside the environment to drive its containerd:
# the client creates the stdio FIFOs the shim opens, so both must see one
# /run.  "lkenv.sh exec nerdctl ..." does that, as `lima nerdctl` or Rancher
# Desktop's nerdctl.exe run nerdctl inside their VM.
#
# While up, $STATE holds holder.log, containerd.log, dockerd.log, *.pid, docker.sock.
# "down" leaves nothing behind: no processes, netns, veths, mounts, cgroups or state dir.
set -euo pipefail

LK_NETNS=${LK_NETNS:-dockprobe-lk}
LK_STATE=${LK_STATE:-/var/lib/dockprobe-lk}
LK_TIMEOUT=${LK_TIMEOUT:-60}
LK_CGROUP_PARENT=${LK_CGROUP_PARENT:-/$LK_NETNS}
LK_EXEC_ROOT=${LK_EXEC_ROOT:-/run/docker}
LK_ENGINE_BIN=${LK_ENGINE_BIN:-}
if [[ -n $LK_ENGINE_BIN ]]; then
	LK_DOCKERD=${LK_DOCKERD:-$LK_ENGINE_BIN/dockerd}
	LK_CONTAINERD=${LK_CONTAINERD:-$LK_ENGINE_BIN/containerd}
fi
LK_DOCKERD=${LK_DOCKERD:-/usr/sbin/dockerd}
LK_CONTAINERD=${LK_CONTAINERD:-/usr/bin/containerd}
LK_DOCKER_CLI=${LK_DOCKER_CLI:-docker}
LK_KEEP_ON_FAILURE=${LK_KEEP_ON_FAILURE:-0}
LK_RUNTIME=${LK_RUNTIME:-docker}

# The article's values.
readonly VM_IP=192.168.65.3
readonly VM_PREFIX=24
readonly VM_GW=192.168.65.1
readonly SERVICES_IP=192.168.65.6
readonly CNI_CIDR=10.1.0.1/16
readonly HOST_GATEWAY_IP=192.168.65.254
readonly DRIVES="c d wsl wslg"
readonly DAEMON_JSON='{"builder":{"gc":{"defaultKeepStorage":"20GB","enabled":true}},"experimental":false}'

NETNS_PATH=/var/run/netns/$LK_NETNS
# The daemons' PATH: the engine's binaries first (containerd looks up
# containerd-shim-runc-v2, the shim runc, dockerd docker-proxy on PATH).
DAEMON_PATH=${LK_ENGINE_BIN:+$LK_ENGINE_BIN:}$PATH
SOCK=$LK_STATE/docker.sock
MARKER=$LK_STATE/.lkenv
CGROUP_REL=${LK_CGROUP_PARENT#/}

log() { printf 'lkenv: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

validate_settings() {
	[[ $LK_NETNS =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || die "bad LK_NETNS '$LK_NETNS'"
	[[ $LK_STATE == /* ]] || die "LK_STATE must be an absolute path"
	[[ $LK_STATE != *..* && $LK_STATE != *//* && $LK_STATE != */ ]] || die "LK_STATE must be a normalized path"
	# At least two components, so down never removes / or a top-level directory.
	[[ $LK_STATE =~ ^/[^/]+/[^/]+ ]] || die "LK_STATE '$LK_STATE' is too close to /"
	case $LK_STATE in /run | /run/* | /var/run | /var/run/* | /mnt | /mnt/*)
		die "LK_STATE must not be under /run or /mnt (hidden by the namespace's tmpfs)" ;;
	esac
	((${#SOCK} < 100)) || die "LK_STATE is too long for a unix socket path"
	[[ $CGROUP_REL =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad LK_CGROUP_PARENT '$LK_CGROUP_PARENT'"
	[[ $LK_EXEC_ROOT == /run/* ]] || die "LK_EXEC_ROOT must be under /run (inside the private tmpfs)"
	[[ $LK_TIMEOUT =~ ^[0-9]+$ ]] || die "bad LK_TIMEOUT"
	[[ $LK_RUNTIME == docker || $LK_RUNTIME == containerd ]] || die "LK_RUNTIME must be docker or containerd, got '$LK_RUNTIME'"
	[[ -z $LK_ENGINE_BIN || ($LK_ENGINE_BIN == /* && -d $LK_ENGINE_BIN) ]] || die "LK_ENGINE_BIN '$LK_ENGINE_BIN' is not an absolute path to a directory"
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

need_cmds() {
	local c
	for c in ip nsenter unshare setsid mount stat "$LK_CONTAINERD"; do
		command -v "$c" >/dev/null 2>&1 || die "missing command: $c"
	done
	if [[ $LK_RUNTIME == docker ]]; then
		command -v "$LK_DOCKERD" >/dev/null 2>&1 || die "missing command: $LK_DOCKERD"
	fi
}

# ---------------------------------------------------------------- process helpers

# pid_alive, read_pidfile, wait_gone, stop_pids, sweep, netns_ino,
# pid_in_netns, delete_netns, note_run_netns, release_run_netns, remove_state.
# shellcheck source=SCRIPTDIR/../tools/envlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/envlib.sh"

read_pid() { read_pidfile "$LK_STATE/$1.pid"; }

# Prints the pid of daemon $1 (holder|containerd|dockerd) when it is alive
# and ours (in our netns, as every process lkenv starts is).
live_pid() {
	local pid
	pid=$(read_pid "$1") || return 1
	pid_alive "$pid" && pid_in_netns "$pid" "$LK_NETNS" || return 1
	printf '%s\n' "$pid"
}

# Every process that belongs to this environment: in our netns, in our mount
# namespace, or in a cgroup below our cgroup parent (containers with their own
# netns, e.g. --network none).
our_pids() {
	local ino mntns p link procs
	ino=$(netns_ino "$LK_NETNS")
	mntns=""
	[[ -r $LK_STATE/mntns ]] && mntns=$(<"$LK_STATE/mntns")
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[[ $p == "$$" || $p == "${BASHPID:-$$}" ]] && continue
		if [[ -n $ino ]]; then
			link=$(readlink "/proc/$p/ns/net" 2>/dev/null) || continue
			if [[ $link == "net:[$ino]" ]]; then
				printf '%s\n' "$p"
				continue
			fi
		fi
		if [[ -n $mntns ]]; then
			link=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
			[[ $link == "$mntns" ]] && printf '%s\n' "$p"
		fi
	done
	for procs in /sys/fs/cgroup/*/"$CGROUP_REL"; do
		[[ -d $procs ]] || continue
		find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null || true
	done
}

# ---------------------------------------------------------------- namespace helpers

in_netns() { nsenter --net="$NETNS_PATH" -- "$@"; }

# Runs a command inside the environment's netns and private mount namespace.
in_env() {
	local holder
	holder=$(live_pid holder) || die "namespace holder is not running"
	nsenter --mount="/proc/$holder/ns/mnt" --net="$NETNS_PATH" -- "$@"
}

# Runs inside the new mount namespace (passed to bash -c via declare -f).
holder_main() {
	set -eu
	local state=$1 d t
	# Drop the host's mounts under /run and /mnt (e.g. /run/netns/NAME) from this
	# private copy, so dockerd's mountinfo looks like a VM's, then cover both.
	while read -r t; do
		umount -l "$t" 2>/dev/null || true
	done < <(awk '$5 ~ /^\/(run|mnt)\// { print $5 }' /proc/self/mountinfo | sort -r)
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
	mount -t tmpfs -o mode=0755 tmpfs /mnt
	for d in c d wsl wslg; do
		mkdir -p "/run/desktop/mnt/host/$d" "/mnt/host/$d"
		mount --bind "$state/drives/$d" "/run/desktop/mnt/host/$d"
		mount --make-rshared "/run/desktop/mnt/host/$d"
		mount --bind "$state/drives/$d" "/mnt/host/$d"
	done
	mkdir -p /run/config/docker /run/desktop
	cp "$state/daemon.json" /run/config/docker/daemon.json
	echo "holder: mounts ready"
	: >"$state/holder.ready"
	exec sleep infinity
}

setup_netns() {
	ip netns add "$LK_NETNS"
	in_netns ip link set lo up
	in_netns ip link add eth0 type veth peer name vm-host0
	# "brd +" sets the broadcast address as LinuxKit's network setup does: the
	# article's ifconfig shows Bcast:192.168.65.255 (and 10.1.255.255 on cni0).
	in_netns ip addr add "$VM_IP/$VM_PREFIX" brd + dev eth0
	in_netns ip link set vm-host0 up
	in_netns ip link set eth0 up
	in_netns ip link add services1 type veth peer name services1-p
	in_netns ip addr add "$SERVICES_IP/32" dev services1
	in_netns ip link set services1-p up
	in_netns ip link set services1 up
	in_netns ip link add cni0 type bridge
	in_netns ip addr add "$CNI_CIDR" brd + dev cni0
	in_netns ip link set cni0 up
	in_netns ip route add default via "$VM_GW" dev eth0 onlink
}

write_files() {
	local d
	for d in $DRIVES; do
		mkdir -p "$LK_STATE/drives/$d"
		printf 'drive %s\n' "$d" >"$LK_STATE/drives/$d/lkenv-drive"
	done
	printf '%s\n' "${LK_DAEMON_JSON:-$DAEMON_JSON}" >"$LK_STATE/daemon.json"
	mkdir -p "$LK_STATE/containerd" "$LK_STATE/docker"
	write_containerd_config "$LK_STATE/containerd.toml"
}

# containerd's config in the schema of the containerd that reads it (the
# version its own "config default" prints), as a user of that containerd
# writes it: 1.x reads version 2; 2.0-2.2 read 3; 2.3 and later 4, where the
# gRPC address moved into plugins."io.containerd.server.v1.grpc". A newer
# containerd migrates an older schema only with a warning, and in the
# migration the CRI plugin, split in three in 2.0 (cri.v1.runtime,
# cri.v1.images, grpc.v1.cri), is no longer disabled by naming grpc.v1.cri.
# CRI stays off: no Kubernetes here, and it would read the host's
# /etc/cni/net.d.
write_containerd_config() {
	local v
	v=$("$LK_CONTAINERD" config default 2>/dev/null | awk '$1 == "version" { print $3; exit }')
	[[ $v =~ ^[0-9]+$ ]] || die "cannot read the config version of $LK_CONTAINERD (config default)"
	{
		printf 'version = %s\n' "$v"
		printf 'root = "%s"\n' "$LK_STATE/containerd"
		printf 'state = "/run/containerd"\n'
		if ((v >= 3)); then
			printf 'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images", "io.containerd.podsandbox.controller.v1.podsandbox"]\n'
		else
			printf 'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
		fi
		if ((v >= 4)); then
			printf '\n[plugins."io.containerd.server.v1.grpc"]\n  address = "/run/containerd/containerd.sock"\n'
		else
			printf '\n[grpc]\n  address = "/run/containerd/containerd.sock"\n'
		fi
		printf '\n[plugins."io.containerd.internal.v1.opt"]\n  path = "%s"\n' "$LK_STATE/containerd/opt"
	} >"$1"
}

tail_logs() {
	local f
	for f in holder containerd dockerd; do
		[[ -s $LK_STATE/$f.log ]] || continue
		printf -- '----- last lines of %s -----\n' "$LK_STATE/$f.log" >&2
		grep -v 'loading plugin' "$LK_STATE/$f.log" | tail -n 25 >&2 || true
	done
}

engine_answers() {
	if command -v "$LK_DOCKER_CLI" >/dev/null 2>&1; then
		timeout 5 "$LK_DOCKER_CLI" -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1
	else
		timeout 5 curl -fsS --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1
	fi
}

is_up() {
	live_pid holder >/dev/null && live_pid containerd >/dev/null || return 1
	if [[ $LK_RUNTIME == containerd ]]; then
		[[ -S /proc/$(live_pid holder)/root/run/containerd/containerd.sock ]]
		return
	fi
	live_pid dockerd >/dev/null && [[ -S $SOCK ]] && engine_answers
}

# ---------------------------------------------------------------- subcommands

UP_DONE=0
on_up_exit() {
	local rc=$?
	((UP_DONE)) && return 0
	trap - EXIT INT TERM
	log "up failed (exit $rc)"
	tail_logs
	if [[ $LK_KEEP_ON_FAILURE == 1 ]]; then
		log "LK_KEEP_ON_FAILURE=1: leaving the environment for inspection; run '$0 down' later"
	else
		log "tearing down"
		do_down || true
	fi
	exit "$rc"
}

do_up() {
	local t0 holder ctr dockerd i pidfile hostmnt deadline
	t0=$(date +%s.%N)
	cd /

	if is_up; then
		log "already up ($LK_RUNTIME, containerd pid $(live_pid containerd)); nothing to do"
		return 0
	fi
	if [[ -e $NETNS_PATH && ! -e $MARKER ]]; then
		die "netns $LK_NETNS exists but $MARKER does not: not ours? run '$0 down' to remove it"
	fi
	if [[ -e $MARKER || -e $NETNS_PATH ]]; then
		log "stale previous run found; tearing it down first"
		do_down
	fi
	if [[ -e $LK_STATE ]] && [[ -n $(ls -A "$LK_STATE" 2>/dev/null) ]]; then
		die "$LK_STATE exists, is not empty and has no $MARKER; refusing to use it"
	fi

	trap on_up_exit EXIT
	trap 'exit 130' INT TERM

	mkdir -p "$LK_STATE"
	chmod 0711 "$LK_STATE"
	printf 'netns=%s\n' "$LK_NETNS" >"$MARKER"
	# ip netns add turns /run/netns into a shared bind mount of itself; remember
	# whether it was there before, so down can undo exactly that.
	note_run_netns "$LK_STATE"

	write_files
	setup_netns

	# Namespace holder: enters the netns, unshares a private mount ns, mounts, sleeps.
	# setsid/nsenter/unshare all exec, so $! is the holder's pid.
	setsid nsenter --net="$NETNS_PATH" -- unshare --mount --propagation private -- \
		bash -c "$(declare -f holder_main); holder_main \"\$1\"" lkenv-holder "$LK_STATE" \
		>"$LK_STATE/holder.log" 2>&1 </dev/null &
	holder=$!
	echo "$holder" >"$LK_STATE/holder.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -e $LK_STATE/holder.ready ]] && break
		pid_alive "$holder" || die "namespace holder exited during setup"
		sleep 0.1
	done
	[[ -e $LK_STATE/holder.ready ]] || die "namespace holder did not get ready in 10s"
	hostmnt=$(readlink /proc/self/ns/mnt)
	readlink "/proc/$holder/ns/mnt" >"$LK_STATE/mntns"
	[[ $(<"$LK_STATE/mntns") != "$hostmnt" ]] || die "holder is in the host mount namespace"
	[[ $(stat -f -c %T "/proc/$holder/root/run") == tmpfs ]] || die "/run is not a tmpfs in the holder's namespace"

	# containerd.  One deadline covers containerd and dockerd.
	deadline=$((SECONDS + LK_TIMEOUT))
	PATH=$DAEMON_PATH setsid nsenter --mount="/proc/$holder/ns/mnt" --net="$NETNS_PATH" -- \
		"$LK_CONTAINERD" --config "$LK_STATE/containerd.toml" \
		>"$LK_STATE/containerd.log" 2>&1 </dev/null &
	ctr=$!
	echo "$ctr" >"$LK_STATE/containerd.pid"
	while ((SECONDS < deadline)); do
		[[ -S /proc/$holder/root/run/containerd/containerd.sock ]] && break
		pid_alive "$ctr" || die "containerd exited"
		sleep 0.1
	done
	[[ -S /proc/$holder/root/run/containerd/containerd.sock ]] || die "containerd socket did not appear in ${LK_TIMEOUT}s"
	if [[ $LK_RUNTIME == containerd ]]; then
		UP_DONE=1
		trap - EXIT INT TERM
		log "up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s: netns $LK_NETNS, containerd only (pid $ctr)"
		return 0
	fi

	# dockerd: the article's flags first, then ours.
	local -a extra_args=()
	read -ra extra_args <<<"${LK_EXTRA_DOCKERD_ARGS:-}"
	PATH=$DAEMON_PATH setsid nsenter --mount="/proc/$holder/ns/mnt" --net="$NETNS_PATH" -- \
		"$LK_DOCKERD" \
		--config-file /run/config/docker/daemon.json \
		--containerd /run/containerd/containerd.sock \
		--pidfile /run/desktop/docker.pid \
		--swarm-default-advertise-addr="$VM_IP" \
		--host-gateway-ip "$HOST_GATEWAY_IP" \
		-H "unix://$SOCK" \
		-H unix:///var/run/docker.sock \
		--data-root "$LK_STATE/docker" \
		--exec-root "$LK_EXEC_ROOT" \
		--cgroup-parent "$LK_CGROUP_PARENT" \
		"${extra_args[@]}" \
		>"$LK_STATE/dockerd.log" 2>&1 </dev/null &
	dockerd=$!
	echo "$dockerd" >"$LK_STATE/dockerd.pid"
	while ((SECONDS < deadline)); do
		pid_alive "$dockerd" || die "dockerd exited"
		[[ -S $SOCK ]] && engine_answers && break
		sleep 0.25
	done
	if ! [[ -S $SOCK ]] || ! engine_answers; then
		die "engine did not answer on $SOCK within ${LK_TIMEOUT}s"
	fi
	pidfile=/proc/$holder/root/run/desktop/docker.pid
	[[ -r $pidfile && $(<"$pidfile") == "$dockerd" ]] || die "dockerd pidfile does not match pid $dockerd"

	UP_DONE=1
	trap - EXIT INT TERM
	log "up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s: netns $LK_NETNS, dockerd pid $dockerd, DOCKER_HOST=unix://$SOCK"
}

do_down() {
	local pid d
	cd /
	# dockerd first (it stops its containers), then containerd, the namespace holder,
	# then anything else still in our netns, mount namespace or cgroups.
	if pid=$(live_pid dockerd); then stop_pids 30 "$pid"; fi
	if pid=$(live_pid containerd); then stop_pids 15 "$pid"; fi
	if pid=$(live_pid holder); then stop_pids 5 "$pid"; fi
	sweep 2
	delete_netns "$LK_NETNS"
	# Containers' cgroups (dockerd --cgroup-parent), deepest first.
	for d in /sys/fs/cgroup/*/"$CGROUP_REL"; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || log "warning: could not remove cgroup $d"
	done
	release_run_netns "$LK_STATE" "$MARKER"
	remove_state "$LK_STATE" "$MARKER"
	log "down"
}

do_status() {
	local p
	if is_up && [[ $LK_RUNTIME == containerd ]]; then
		echo "up: netns $LK_NETNS, containerd only, containerd pid $(live_pid containerd), holder pid $(live_pid holder)"
		return 0
	fi
	if is_up; then
		echo "up: netns $LK_NETNS, dockerd pid $(live_pid dockerd), containerd pid $(live_pid containerd), holder pid $(live_pid holder), DOCKER_HOST=unix://$SOCK"
		return 0
	fi
	if [[ -e $MARKER || -e $NETNS_PATH ]]; then
		echo "degraded: leftovers of a previous run (netns $([[ -e $NETNS_PATH ]] && echo present || echo absent))"
		for p in holder containerd dockerd; do
			[[ $p == dockerd && $LK_RUNTIME == containerd ]] && continue
			if live_pid "$p" >/dev/null; then echo "  $p: running"; else echo "  $p: not running"; fi
		done
		echo "  run '$0 down' to clean up"
		return 1
	fi
	echo "down"
	return 1
}

do_env() {
	is_up || die "not up (run '$0 up')"
	printf 'export LK_RUNTIME=%q\n' "$LK_RUNTIME"
	if [[ $LK_RUNTIME == docker ]]; then
		printf 'export DOCKER_HOST=%q\n' "unix://$SOCK"
	fi
	printf 'export LK_NETNS=%q\n' "$LK_NETNS"
	printf 'export LK_NETNS_PATH=%q\n' "$NETNS_PATH"
	printf 'export LK_STATE=%q\n' "$LK_STATE"
	printf 'export LK_SOCK=%q\n' "$SOCK"
	if [[ $LK_RUNTIME == docker ]]; then
		printf 'export LK_DOCKERD_PID=%q\n' "$(live_pid dockerd)"
	fi
	printf 'export LK_CONTAINERD_PID=%q\n' "$(live_pid containerd)"
	printf 'export LK_HOLDER_PID=%q\n' "$(live_pid holder)"
	printf 'export LK_MNTNS=%q\n' "$(<"$LK_STATE/mntns")"
	printf 'export LK_DATA_ROOT=%q\n' "$LK_STATE/docker"
	printf 'export LK_EXEC_ROOT=%q\n' "$LK_EXEC_ROOT"
	printf 'export LK_CGROUP_PARENT=%q\n' "$LK_CGROUP_PARENT"
	printf 'export LK_HOST_GATEWAY_IP=%q\n' "$HOST_GATEWAY_IP"
	printf 'export LK_VM_IP=%q\n' "$VM_IP"
	printf 'export LK_ENGINE_BIN=%q\n' "$LK_ENGINE_BIN"
}

main() {
	validate_settings
	case ${1:-} in
	up)
		need_root
		need_cmds
		do_up
		;;
	down)
		need_root
		do_down
		;;
	status) do_status ;;
	env) do_env ;;
	exec)
		# Run a command inside the environment's netns + private mount namespace.
		shift
		need_root
		in_env "$@"
		;;
	*)
		echo "usage: $0 up|down|status|env|exec CMD..." >&2
		exit 2
		;;
	esac
}

main "$@"
