# envlib.sh - what the e2e environments' scripts (lkenv/lkenv.sh,
# k8s/cluster.sh) share: their processes (pid files, liveness, stopping,
# the sweep of leftovers), their network namespaces, and the host state
# that down undoes. Sourced, never run; it defines functions only.
#
# The sourcing script defines
#   log MESSAGE...  one line to stderr, with its own prefix
#   our_pids        every pid that belongs to its environment (for sweep)
# shellcheck shell=bash

# ---------------------------------------------------------------- processes

# pid_alive PID: true unless the process is gone or a zombie.
pid_alive() {
	local pid=$1 st
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

# read_pidfile FILE: the pid in FILE, when it holds one.
read_pidfile() {
	local pid
	[[ -r $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$pid"
}

# wait_gone SECS PID...: true when all the processes go within SECS.
wait_gone() {
	local secs=$1 pid k left
	shift
	for ((k = 0; k <= secs * 10; k++)); do
		left=0
		for pid in "$@"; do pid_alive "$pid" && left=1; done
		((left)) || return 0
		((k < secs * 10)) && sleep 0.1
	done
	return 1
}

# stop_pids SECS PID...: SIGTERM to all, up to SECS for them to go, then
# SIGKILL to those left and up to 5 s more for them.
stop_pids() {
	local secs=$1 pid killed=()
	shift
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	wait_gone "$secs" "$@" && return 0
	for pid in "$@"; do
		pid_alive "$pid" || continue
		log "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)) ignored SIGTERM for ${secs}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		killed+=("$pid")
	done
	wait_gone 5 "${killed[@]}" && return 0
	for pid in "${killed[@]}"; do
		pid_alive "$pid" && log "warning: pid $pid still there after SIGKILL"
	done
	return 0
}

# sweep TERM_ROUNDS: stops every live process our_pids names, in six
# rounds: the first TERM_ROUNDS send SIGTERM and wait up to a second each
# for the processes to go, the others send SIGKILL.
sweep() {
	local term_rounds=$1 round pids p
	for round in 1 2 3 4 5 6; do
		pids=$(our_pids | sort -un | while read -r p; do pid_alive "$p" && echo "$p"; done || true)
		[[ -z $pids ]] && return 0
		((round == 1)) && log "stopping leftover processes: $(echo "$pids" | tr '\n' ' ')"
		if ((round <= term_rounds)); then
			# shellcheck disable=SC2086 # word splitting of the pid list is intended
			kill -TERM $pids 2>/dev/null || true
			# shellcheck disable=SC2086
			wait_gone 1 $pids || true
		else
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			sleep 0.5
		fi
	done
	pids=$(our_pids | sort -un | while read -r p; do pid_alive "$p" && echo "$p"; done || true)
	[[ -z $pids ]] || log "warning: processes still alive: $(echo "$pids" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- network namespaces

# netns_ino NAME: the inode of netns NAME (/var/run/netns/NAME), or nothing.
netns_ino() { stat -L -c %i "/var/run/netns/$1" 2>/dev/null || true; }

# pid_in_netns PID NAME: true when the process lives in netns NAME.
pid_in_netns() {
	local ino
	ino=$(netns_ino "$2")
	[[ -n $ino && $(readlink "/proc/$1/ns/net" 2>/dev/null) == "net:[$ino]" ]]
}

# delete_netns NAME: removes netns NAME if it is there, by hand when ip
# cannot.
delete_netns() {
	[[ -e /var/run/netns/$1 ]] || return 0
	ip netns delete "$1" 2>/dev/null || {
		umount -l "/var/run/netns/$1" 2>/dev/null || true
		rm -f "/var/run/netns/$1"
	}
}

# ---------------------------------------------------------------- host state

# note_run_netns STATE: "ip netns add" makes /run/netns (and a shared bind
# mount of it); remember, in STATE, what was there before the first one,
# so that release_run_netns undoes exactly that.
note_run_netns() {
	[[ -d /run/netns ]] && echo 1 >"$1/run-netns-dir-existed"
	mountpoint -q /run/netns 2>/dev/null && echo 1 >"$1/run-netns-was-mounted"
	return 0
}

# release_run_netns STATE MARKER: undoes what "ip netns add" did to
# /run/netns, but only if we caused it (MARKER says STATE is ours) and
# nobody else has a netns there now.
release_run_netns() {
	local state=$1 marker=$2
	if [[ -e $marker && ! -e $state/run-netns-was-mounted ]] &&
		mountpoint -q /run/netns 2>/dev/null && [[ -z $(ls -A /run/netns 2>/dev/null) ]]; then
		umount /run/netns 2>/dev/null || true
		if [[ ! -e $state/run-netns-dir-existed ]] && ! mountpoint -q /run/netns 2>/dev/null; then
			rmdir /run/netns 2>/dev/null || true
		fi
	fi
	return 0
}

# remove_state STATE MARKER: removes the state dir when it is ours (it has
# MARKER, or is empty) and nothing is mounted below it.
remove_state() {
	local state=$1 marker=$2
	[[ -d $state ]] || return 0
	if [[ -e $marker || -z $(ls -A "$state" 2>/dev/null) ]]; then
		if grep -qF " $state" /proc/self/mountinfo; then
			log "warning: mounts under $state in this mount namespace; not removing it"
		else
			rm -rf --one-file-system "$state"
		fi
	else
		log "warning: $state has no $marker; not removing it"
	fi
}
