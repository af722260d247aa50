#!/usr/bin/env bash
# cluster.sh - a real, throw-away Kubernetes cluster for dockprobe's e2e tests:
# etcd, kube-apiserver and two nodes (each a kubelet with its own containerd),
# every one of them inside network namespaces this script creates.
#
# Usage: cluster.sh up|down|status|env
#        cluster.sh load-image FILE [NODE...]   import an image archive into the nodes'
#                                      containerd (k8s.io); every node unless named
#        cluster.sh remove-image REF [NODE...]  remove an image from the nodes (to make one fail)
#        cluster.sh namespace NAME    create a namespace as the controllers would have it
#        cluster.sh kubectl ARGS...   kubectl with the admin kubeconfig
#   eval "$(cluster.sh env)" gives KUBECONFIG, K8S_NODE_NAMES, K8S_NODE1_KUBELET_PID, ...
#
# Layout (ID = $DOCKPROBE_E2E_ID, default "dockprobe"):
#
#   netns ID-k8s-cp       bridge k8s0 10.201.0.1/24
#                           etcd            127.0.0.1:2379 (this netns's own loopback)
#                           kube-apiserver  10.201.0.1:6443
#   netns ID-k8s-nodeN    eth0 10.201.0.1N/24, a veth whose peer is a port of k8s0;
#                         cni0 10.202.N.1/24, the pods' bridge (CNI bridge + host-local)
#                           containerd (CRI), kubelet ID-nodeN on 10.201.0.1N:10250
#   host loopback         127.0.0.1:PORT -> the apiserver: socat to a unix socket in
#                         $STATE, socat in the cp netns from there to 10.201.0.1:6443
#                         (the only thing outside our namespaces; PORT is picked free)
#
# Nothing here routes anywhere but into these namespaces: the cp netns has no
# route out, and every node's default route ends there. No registry is used:
# the pod sandbox is a small static program (tools/pause) packed locally as an
# OCI archive, imported into each node's containerd and pinned.
#
# Each node also has a private mount namespace (a "holder" process keeps it),
# laid out like a real node: /run is a fresh tmpfs (/run/containerd/containerd.sock),
# /var/lib is $STATE/nodeN/var/lib (kubelet/, containerd/, cni/, dockprobe-node/ with
# containerd.toml and net.d/) and /var/log is $STATE/nodeN/var/log (pods/, containers/).
# So the kubelet's and containerd's files never touch the host's.
#
# No scheduler or controller-manager: pods name their node (spec.nodeName).
# What the controllers would do and tests need is done here: the `default`
# ServiceAccount and the kube-root-ca.crt ConfigMap in `default` (cluster.sh
# namespace NAME does the same for another namespace). Without the namespace
# controller a deleted namespace stays Terminating; use fresh names.
#
# Host-wide changes, undone by down: the kubelet sets six kernel sysctls
# (vm.overcommit_memory, vm.panic_on_oom, kernel.panic, kernel.panic_on_oops,
# kernel.keys.root_max{keys,bytes}); their values are saved before the first
# cluster on the machine starts and restored when the last one stops. Each
# node's pods live in cgroup /ID-k8s-nodeN (every v1 hierarchy, and runc's mirror
# in the "unified" one), removed by down.
# down leaves nothing behind: processes, netns, mounts, cgroups, state dir.
#
# Settings (environment):
#   DOCKPROBE_E2E_ID  names everything (netns, cgroups, state, nodes); default dockprobe
#   K8S_STATE         state dir, removed by down (default /var/lib/$ID-k8s)
#   K8S_NODES         number of nodes, 1..9 (default 2)
#   K8S_BIN           dir with kube-apiserver, kubelet, kubectl (default: e2e/k8s/install-k8s.sh)
#   ENGINE_BIN        dir with containerd, containerd-shim-runc-v2, runc (default: e2e/tools/install-engine.sh)
#   ETCD              etcd binary (default etcd from PATH: Debian's etcd-server)
#   CNI_BIN           CNI plugins dir (default /usr/lib/cni: Debian's containernetworking-plugins)
#   CTR               ctr binary for image imports (default ctr from PATH)
#   K8S_TIMEOUT       seconds up waits for the cluster to be ready (default 120)
#   K8S_KEEP_ON_FAILURE=1  do not tear down after a failed up
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ID=${DOCKPROBE_E2E_ID:-dockprobe}
K8S_STATE=${K8S_STATE:-/var/lib/$ID-k8s}
K8S_NODES=${K8S_NODES:-2}
K8S_TIMEOUT=${K8S_TIMEOUT:-120}
K8S_KEEP_ON_FAILURE=${K8S_KEEP_ON_FAILURE:-0}
ETCD=${ETCD:-etcd}
CNI_BIN=${CNI_BIN:-/usr/lib/cni}
CTR=${CTR:-ctr}

readonly CP_IP=10.201.0.1
readonly LINK_PREFIX=24
readonly API_PORT=6443
readonly SERVICE_CIDR=10.203.0.0/24
readonly SERVICE_IP=10.203.0.1
readonly SANDBOX_IMAGE=dockprobe.local/pause:1
# The sysctls the kubelet sets (setupKernelTunables in its container manager).
readonly SYSCTLS="vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes"
# Shared by every cluster this script runs on the machine (any ID): who is up,
# and the sysctl values from before the first one.
readonly SHARED=/run/dockprobe-k8s

CP_NETNS=$ID-k8s-cp
MARKER=$K8S_STATE/.k8scluster
PKI=$K8S_STATE/pki
LOGS=$K8S_STATE/logs
ADMIN_KUBECONFIG=$K8S_STATE/admin.kubeconfig

log() { printf 'k8scluster: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

validate_settings() {
	[[ $ID =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] || die "DOCKPROBE_E2E_ID '$ID' must be lower-case letters, digits and '-' (it names nodes)"
	[[ $K8S_STATE == /* && $K8S_STATE != *..* && $K8S_STATE != *//* && $K8S_STATE != */ ]] || die "K8S_STATE must be a normalized absolute path"
	[[ $K8S_STATE =~ ^/[^/]+/[^/]+ ]] || die "K8S_STATE '$K8S_STATE' is too close to /"
	case $K8S_STATE in /run | /run/* | /var/run | /var/run/* | /var/log | /var/log/*)
		die "K8S_STATE must not be under /run or /var/log (the nodes' mount namespaces cover them)" ;;
	esac
	[[ $K8S_NODES =~ ^[1-9]$ ]] || die "K8S_NODES must be 1..9"
	[[ $K8S_TIMEOUT =~ ^[0-9]+$ ]] || die "bad K8S_TIMEOUT"
	((${#K8S_STATE} < 80)) || die "K8S_STATE is too long for a unix socket path"
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

node_name() { echo "$ID-node$1"; }
node_netns() { echo "$ID-k8s-node$1"; }
node_ip() { echo "10.201.0.1$1"; }
node_dir() { echo "$K8S_STATE/node$1"; }
node_cgroup() { echo "$ID-k8s-node$1"; }

# ---------------------------------------------------------------- process helpers

# pid_alive, read_pidfile, wait_gone, stop_pids, sweep, netns_ino,
# pid_in_netns, delete_netns, note_run_netns, release_run_netns, remove_state.
# shellcheck source=SCRIPTDIR/../tools/envlib.sh
. "$HERE/../tools/envlib.sh"

# pidfile names: etcd apiserver cp-fwd host-fwd nodeN-holder nodeN-containerd nodeN-kubelet
read_pid() { read_pidfile "$K8S_STATE/$1.pid"; }

# live_pid NAME: the pid of our daemon NAME when it is alive and in its netns.
live_pid() {
	local pid ns
	pid=$(read_pid "$1") || return 1
	pid_alive "$pid" || return 1
	case $1 in
	node*) ns=$(node_netns "${1:4:1}") ;;
	host-fwd)
		# In the host netns: check it is our forwarder by its command line.
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$K8S_STATE/apiserver.sock" || return 1
		printf '%s\n' "$pid"
		return 0
		;;
	*) ns=$CP_NETNS ;;
	esac
	pid_in_netns "$pid" "$ns" || return 1
	printf '%s\n' "$pid"
}

all_netns() {
	local i
	echo "$CP_NETNS"
	for ((i = 1; i <= K8S_NODES; i++)); do node_netns "$i"; done
}

# Every process of this cluster: in one of our netns, in a node's mount
# namespace, or in a node's cgroup tree (pods, which have their own netns).
our_pids() {
	local inos=() mnts=() ns ino f p link i d
	for ns in $(all_netns); do
		ino=$(netns_ino "$ns")
		[[ -n $ino ]] && inos+=("net:[$ino]")
	done
	for f in "$K8S_STATE"/node*/mntns; do
		[[ -r $f ]] && mnts+=("$(<"$f")")
	done
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[[ $p == "$$" || $p == "${BASHPID:-$$}" ]] && continue
		link=$(readlink "/proc/$p/ns/net" 2>/dev/null) || continue
		for i in "${inos[@]}"; do [[ $link == "$i" ]] && { echo "$p"; continue 2; }; done
		link=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
		for i in "${mnts[@]}"; do [[ $link == "$i" ]] && { echo "$p"; continue 2; }; done
	done
	for ((i = 1; i <= K8S_NODES; i++)); do
		for d in $(existing_cgroups "$(node_cgroup "$i")"); do
			find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true
		done
	done
}

# start NAME NETNS [MNTNS_PID] -- CMD...: a daemon in its own session, logged.
start() {
	local name=$1 ns=$2 holder=$3 pid
	shift 4
	if [[ -n $holder ]]; then
		setsid nsenter --mount="/proc/$holder/ns/mnt" --net="/var/run/netns/$ns" -- "$@" \
			>"$LOGS/$name.log" 2>&1 </dev/null &
	else
		setsid nsenter --net="/var/run/netns/$ns" -- "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
	fi
	pid=$!
	echo "$pid" >"$K8S_STATE/$name.pid"
}

# ---------------------------------------------------------------- binaries

resolve_bins() {
	if [[ -z ${K8S_BIN:-} ]]; then
		K8S_BIN=$("$HERE/install-k8s.sh") || die "install-k8s.sh failed"
	fi
	if [[ -z ${ENGINE_BIN:-} ]]; then
		ENGINE_BIN=$("$HERE/../tools/install-engine.sh") || die "install-engine.sh failed"
	fi
	local b
	for b in kube-apiserver kubelet kubectl; do [[ -x $K8S_BIN/$b ]] || die "missing $K8S_BIN/$b (run e2e/k8s/install-k8s.sh)"; done
	for b in containerd containerd-shim-runc-v2 runc; do [[ -x $ENGINE_BIN/$b ]] || die "missing $ENGINE_BIN/$b (run e2e/tools/install-engine.sh)"; done
	for b in "$ETCD" "$CTR" socat openssl ip nsenter unshare setsid flock ss go; do
		command -v "$b" >/dev/null 2>&1 || die "missing command: $b (.ci/run installs etcd-server, socat, containerd (ctr), openssl, iproute2)"
	done
	for b in bridge host-local loopback; do [[ -x $CNI_BIN/$b ]] || die "missing CNI plugin $CNI_BIN/$b (apt-get install containernetworking-plugins)"; done
	ETCD=$(command -v "$ETCD")
	CTR=$(command -v "$CTR")
}

kubectl_admin() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# The sandbox program and the image packer, built from tools/ (its own
# module) into the state dir: seconds with a warm Go build cache.
build_tools() {
	mkdir -p "$K8S_STATE/bin"
	(cd "$HERE/tools" && GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
		go build -trimpath -o "$K8S_STATE/bin/" ./pause ./ociimage) >"$LOGS/build-tools.log" 2>&1 ||
		{ cat "$LOGS/build-tools.log" >&2; die "building e2e/k8s/tools failed"; }
	"$K8S_STATE/bin/ociimage" -bin "$K8S_STATE/bin/pause" -path /pause -name "$SANDBOX_IMAGE" \
		-o "$K8S_STATE/sandbox.tar"
}

# ---------------------------------------------------------------- PKI and config

# sign NAME SUBJ EXT: a P-256 key and a certificate signed by our CA.
sign() {
	local name=$1 subj=$2 ext=$3
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 30 -sha256 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr"
}

make_pki() {
	local i ip name client='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
	mkdir -p "$PKI"
	chmod 0700 "$PKI"
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=$ID-k8s-ca" -days 30 -sha256 \
		-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' \
		-out "$PKI/ca.crt" 2>/dev/null
	sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$CP_IP,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	sign admin "/O=system:masters/CN=kubernetes-admin" "$client"
	sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
	for ((i = 1; i <= K8S_NODES; i++)); do
		name=$(node_name "$i")
		ip=$(node_ip "$i")
		sign "$name-client" "/O=system:nodes/CN=system:node:$name" "$client"
		sign "$name-serving" "/CN=$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$ip,DNS:$name"
	done
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# kubeconfig FILE SERVER CA CERT KEY USER
write_kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $ID
  cluster:
    server: $2
    certificate-authority: $3
users:
- name: $6
  user:
    client-certificate: $4
    client-key: $5
contexts:
- name: $ID
  context:
    cluster: $ID
    user: $6
    namespace: default
current-context: $ID
EOF
	chmod 0600 "$1"
}

# The node's files, at the paths its mount namespace shows them.
write_node_files() {
	local i=$1 d name ip
	d=$(node_dir "$i")
	name=$(node_name "$i")
	ip=$(node_ip "$i")
	mkdir -p "$d/var/lib/kubelet/pki" "$d/var/lib/containerd" "$d/var/lib/cni" \
		"$d/var/lib/dockprobe-node/net.d" "$d/var/log/pods" "$d/var/log/containers"
	cp "$PKI/ca.crt" "$d/var/lib/kubelet/pki/ca.crt"
	cp "$PKI/$name-client.crt" "$d/var/lib/kubelet/pki/kubelet-client.crt"
	cp "$PKI/$name-client.key" "$d/var/lib/kubelet/pki/kubelet-client.key"
	cp "$PKI/$name-serving.crt" "$d/var/lib/kubelet/pki/kubelet.crt"
	cp "$PKI/$name-serving.key" "$d/var/lib/kubelet/pki/kubelet.key"
	write_kubeconfig "$d/var/lib/kubelet/kubeconfig" "https://$CP_IP:$API_PORT" /var/lib/kubelet/pki/ca.crt \
		/var/lib/kubelet/pki/kubelet-client.crt /var/lib/kubelet/pki/kubelet-client.key "system:node:$name"
	: >"$d/var/lib/dockprobe-node/resolv.conf"

	cat >"$d/var/lib/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# kubelet 1.35 refuses cgroup v1 (this machine's) unless told otherwise.
failCgroupV1: false
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: /var/lib/kubelet/pki/kubelet.crt
tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: /var/lib/kubelet/pki/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
cgroupDriver: cgroupfs
# Each node's pods under its own cgroup, so two kubelets never share /kubepods.
cgroupRoot: /$(node_cgroup "$i")
failSwapOn: false
resolvConf: /var/lib/dockprobe-node/resolv.conf
# The test images are imported, never pulled: never collect them, and never
# call disk pressure on a busy shared disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
serializeImagePulls: false
EOF

	cat >"$d/var/lib/dockprobe-node/containerd.toml" <<EOF
version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins.'io.containerd.internal.v1.opt']
  path = "/var/lib/containerd/opt"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$SANDBOX_IMAGE"

[plugins.'io.containerd.cri.v1.runtime']
  # No CAP_SYS_RESOURCE here: lowering oom_score_adj would fail every container.
  restrict_oom_score_adj = true

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = "runc"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "$ENGINE_BIN/runc"

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["$CNI_BIN"]
  conf_dir = "/var/lib/dockprobe-node/net.d"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
EOF

	cat >"$d/var/lib/dockprobe-node/net.d/10-pods.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.202.$i.0/24", "gateway": "10.202.$i.1" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
EOF
}

# ---------------------------------------------------------------- host-wide state

# Saves the kubelet's sysctls before the first cluster on the machine starts.
sysctls_acquire() {
	mkdir -p "$SHARED/users"
	(
		flock 9
		if [[ ! -e $SHARED/sysctls.saved ]]; then
			local s
			for s in $SYSCTLS; do printf '%s %s\n' "$s" "$(<"/proc/sys/$s")"; done >"$SHARED/sysctls.saved.tmp"
			mv "$SHARED/sysctls.saved.tmp" "$SHARED/sysctls.saved"
		fi
		echo "$K8S_STATE" >"$SHARED/users/$ID"
	) 9>"$SHARED/lock"
}

# Restores them when the last cluster stops.
sysctls_release() {
	[[ -d $SHARED ]] || return 0
	(
		flock 9
		rm -f "$SHARED/users/$ID"
		if [[ -z $(ls -A "$SHARED/users" 2>/dev/null) && -r $SHARED/sysctls.saved ]]; then
			local s v
			while read -r s v; do
				[[ -n $s && -w /proc/sys/$s ]] || continue
				[[ $(<"/proc/sys/$s") == "$v" ]] || echo "$v" >"/proc/sys/$s" || log "warning: could not restore $s=$v"
			done <"$SHARED/sysctls.saved"
			rm -f "$SHARED/sysctls.saved"
			rmdir "$SHARED/users" 2>/dev/null || true
		fi
	) 9>"$SHARED/lock"
	if [[ ! -d $SHARED/users ]]; then rm -f "$SHARED/lock" && rmdir "$SHARED" 2>/dev/null || true; fi
}

# cgroup_dirs NAME: where cgroup NAME lives, one line per hierarchy (cgroup
# v1: one per controller mount, as here; v2: the one unified tree).
cgroup_dirs() {
	local c
	if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
		echo "/sys/fs/cgroup/$1"
		return
	fi
	for c in /sys/fs/cgroup/*; do
		[[ -d $c && $(basename "$c") != unified ]] && mountpoint -q "$c" && echo "$c/$1"
	done
}

# The kubelet refuses a cgroupRoot that does not exist.
make_cgroups() {
	local i d parent c
	for ((i = 1; i <= K8S_NODES; i++)); do
		for d in $(cgroup_dirs "$(node_cgroup "$i")"); do
			mkdir -p "$d"
			parent=$(dirname "$d")
			# v1: a new cpuset starts with no CPUs and no memory nodes.
			if [[ -e $d/cpuset.cpus && -z $(<"$d/cpuset.cpus") ]]; then
				cat "$parent/cpuset.cpus" >"$d/cpuset.cpus"
				cat "$parent/cpuset.mems" >"$d/cpuset.mems"
			fi
			# v2: hand the kubelet the controllers its pods need (untested here: this machine is v1).
			if [[ -e $d/cgroup.subtree_control ]]; then
				for c in $(<"$parent/cgroup.subtree_control"); do echo "+$c" >"$d/cgroup.subtree_control" 2>/dev/null || true; done
			fi
		done
	done
}

# existing_cgroups NAME: every directory of cgroup NAME there is, in any
# hierarchy: runc also mirrors the pods' cgroups into the v1 machine's
# "unified" (v2) hierarchy, which make_cgroups leaves alone.
existing_cgroups() {
	local d
	for d in /sys/fs/cgroup/"$1" /sys/fs/cgroup/*/"$1"; do
		[[ -d $d ]] && echo "$d"
	done
	return 0
}

remove_cgroups() {
	local i d
	for ((i = 1; i <= 9; i++)); do
		for d in $(existing_cgroups "$(node_cgroup "$i")"); do
			[[ -d $d ]] || continue
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || log "warning: could not remove cgroup $d"
		done
	done
}

# ---------------------------------------------------------------- network

in_ns() {
	local ns=$1
	shift
	nsenter --net="/var/run/netns/$ns" -- "$@"
}

setup_network() {
	local i ns
	ip netns add "$CP_NETNS"
	in_ns "$CP_NETNS" ip link set lo up
	in_ns "$CP_NETNS" ip link add k8s0 type bridge
	in_ns "$CP_NETNS" ip addr add "$CP_IP/$LINK_PREFIX" dev k8s0
	in_ns "$CP_NETNS" ip link set k8s0 up
	for ((i = 1; i <= K8S_NODES; i++)); do
		ns=$(node_netns "$i")
		ip netns add "$ns"
		in_ns "$ns" ip link set lo up
		in_ns "$CP_NETNS" ip link add "node$i" type veth peer name eth0 netns "$ns"
		in_ns "$CP_NETNS" ip link set "node$i" master k8s0 up
		in_ns "$ns" ip addr add "$(node_ip "$i")/$LINK_PREFIX" dev eth0
		in_ns "$ns" ip link set eth0 up
		in_ns "$ns" ip route add default via "$CP_IP" dev eth0
	done
}

# A free loopback port for the host side of the apiserver forwarder.
pick_port() {
	local base p
	base=$((20000 + $(cksum <<<"$ID" | cut -d' ' -f1) % 20000))
	for ((p = base; p < base + 200; p++)); do
		[[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
	done
	die "no free port in $base..$((base + 199))"
}

# ---------------------------------------------------------------- node mount namespace

# Runs inside the node's new mount namespace (passed to bash -c via declare -f).
holder_main() {
	set -eu
	local dir=$1 t
	# Drop the host's mounts under /run (e.g. /run/netns/*) from this private
	# copy, then give the node its own /run, /var/lib and /var/log.
	while read -r t; do
		umount -l "$t" 2>/dev/null || true
	done < <(awk '$5 ~ /^\/run\// { print $5 }' /proc/self/mountinfo | sort -r)
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
	mkdir -p /run/netns
	mount --bind "$dir/var/log" /var/log
	mount --bind "$dir/var/lib" /var/lib
	echo ready
	exec sleep infinity
}

start_holder() {
	local i=$1 d ns holder k
	d=$(node_dir "$i")
	ns=$(node_netns "$i")
	setsid nsenter --net="/var/run/netns/$ns" -- unshare --mount --propagation private -- \
		bash -c "$(declare -f holder_main); holder_main \"\$1\"" k8s-node-holder "$d" \
		>"$LOGS/node$i-holder.log" 2>&1 </dev/null &
	holder=$!
	echo "$holder" >"$K8S_STATE/node$i-holder.pid"
	for ((k = 0; k < 100; k++)); do
		grep -qx ready "$LOGS/node$i-holder.log" 2>/dev/null && break
		pid_alive "$holder" || die "node$i's namespace holder exited during setup: $(cat "$LOGS/node$i-holder.log")"
		sleep 0.1
	done
	grep -qx ready "$LOGS/node$i-holder.log" || die "node$i's namespace holder did not get ready in 10s"
	readlink "/proc/$holder/ns/mnt" >"$d/mntns"
	[[ $(<"$d/mntns") != "$(readlink /proc/self/ns/mnt)" ]] || die "node$i's holder is in the host mount namespace"
}

containerd_sock() { echo "/proc/$(read_pid "node$1-holder")/root/run/containerd/containerd.sock"; }

ctr_node() {
	local i=$1
	shift
	"$CTR" --address "$(containerd_sock "$i")" -n k8s.io "$@"
}

# import_image NODE FILE
import_image() {
	local out
	out=$(ctr_node "$1" images import - <"$2" 2>&1) ||
		die "node$1: ctr images import $2 failed: $out"
	printf '%s\n' "$out" >&2
}

# ---------------------------------------------------------------- subcommands

is_up() {
	local i
	for n in etcd apiserver cp-fwd host-fwd; do live_pid "$n" >/dev/null || return 1; done
	for ((i = 1; i <= K8S_NODES; i++)); do
		for n in holder containerd kubelet; do live_pid "node$i-$n" >/dev/null || return 1; done
	done
	[[ -r $ADMIN_KUBECONFIG ]]
}

UP_DONE=0
on_up_exit() {
	local rc=$? f
	((UP_DONE)) && return 0
	trap - EXIT INT TERM
	log "up failed (exit $rc)"
	for f in "$LOGS"/*.log; do
		[[ -s $f ]] || continue
		printf -- '----- last lines of %s -----\n' "$f" >&2
		grep -v 'loading plugin' "$f" | tail -n 15 >&2 || true
	done
	if [[ $K8S_KEEP_ON_FAILURE == 1 ]]; then
		log "K8S_KEEP_ON_FAILURE=1: leaving the cluster for inspection; run '$0 down' later"
	else
		log "tearing down"
		do_down || true
	fi
	exit "$rc"
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

do_up() {
	local t0 i ns d port deadline ready name want
	t0=$(date +%s.%N)
	cd /
	resolve_bins
	if is_up; then
		log "already up ($K8S_NODES nodes, KUBECONFIG=$ADMIN_KUBECONFIG); nothing to do"
		return 0
	fi
	for ns in $(all_netns); do
		if [[ -e /var/run/netns/$ns && ! -e $MARKER ]]; then
			die "netns $ns exists but $MARKER does not: not ours? run '$0 down' to remove it"
		fi
	done
	if [[ -e $MARKER ]] || ip netns list | grep -q "^$ID-k8s-"; then
		log "stale previous run found; tearing it down first"
		do_down
	fi
	if [[ -e $K8S_STATE && -n $(ls -A "$K8S_STATE" 2>/dev/null) ]]; then
		die "$K8S_STATE exists, is not empty and has no $MARKER; refusing to use it"
	fi

	K8S_NODES=$WANT_NODES
	trap on_up_exit EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$K8S_STATE" "$LOGS"
	chmod 0711 "$K8S_STATE"
	printf 'id=%s\nnodes=%s\nk8s_bin=%s\nengine_bin=%s\n' "$ID" "$K8S_NODES" "$K8S_BIN" "$ENGINE_BIN" >"$MARKER"
	note_run_netns "$K8S_STATE"

	build_tools
	make_pki
	port=$(pick_port)
	echo "$port" >"$K8S_STATE/apiserver.port"
	write_kubeconfig "$ADMIN_KUBECONFIG" "https://127.0.0.1:$port" "$PKI/ca.crt" "$PKI/admin.crt" "$PKI/admin.key" kubernetes-admin
	for ((i = 1; i <= K8S_NODES; i++)); do write_node_files "$i"; done
	setup_network
	make_cgroups
	sysctls_acquire

	# Control plane.
	start etcd "$CP_NETNS" "" -- "$ETCD" --name "$ID" --data-dir "$K8S_STATE/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster "$ID=http://127.0.0.1:2380"
	start apiserver "$CP_NETNS" "" -- "$K8S_BIN/kube-apiserver" \
		--etcd-servers=http://127.0.0.1:2379 \
		--bind-address="$CP_IP" --advertise-address="$CP_IP" --secure-port="$API_PORT" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$PKI/ca.crt" \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--allow-privileged=true --profiling=false
	# nodelay on both TCP legs: without it, Nagle's algorithm holds socat's
	# second write of a response until the peer's delayed ACK (~40 ms), and
	# most API calls took 40-50 ms instead of 1-5 (clients and the
	# apiserver set TCP_NODELAY; socat does not unless asked).
	start cp-fwd "$CP_NETNS" "" -- socat "UNIX-LISTEN:$K8S_STATE/apiserver.sock,fork,unlink-early,mode=0600" \
		"TCP:$CP_IP:$API_PORT,nodelay"
	setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay" "UNIX-CONNECT:$K8S_STATE/apiserver.sock" \
		>"$LOGS/host-fwd.log" 2>&1 </dev/null &
	echo $! >"$K8S_STATE/host-fwd.pid"

	# Nodes: namespaces, containerd (with the sandbox image), kubelet.
	for ((i = 1; i <= K8S_NODES; i++)); do
		start_holder "$i"
		start "node$i-containerd" "$(node_netns "$i")" "$(read_pid "node$i-holder")" -- \
			env PATH="$ENGINE_BIN:$PATH" "$ENGINE_BIN/containerd" --config /var/lib/dockprobe-node/containerd.toml
	done
	deadline=$((SECONDS + K8S_TIMEOUT))
	for ((i = 1; i <= K8S_NODES; i++)); do
		while ! [[ -S $(containerd_sock "$i") ]]; do
			((SECONDS < deadline)) || die "node$i's containerd socket did not appear in ${K8S_TIMEOUT}s"
			pid_alive "$(read_pid "node$i-containerd")" || die "node$i's containerd exited"
			sleep 0.1
		done
		import_image "$i" "$K8S_STATE/sandbox.tar"
		ctr_node "$i" images label "$SANDBOX_IMAGE" io.cri-containerd.pinned=pinned >/dev/null
		start "node$i-kubelet" "$(node_netns "$i")" "$(read_pid "node$i-holder")" -- \
			"$K8S_BIN/kubelet" --config=/var/lib/kubelet/config.yaml --kubeconfig=/var/lib/kubelet/kubeconfig \
			--hostname-override="$(node_name "$i")" --node-ip="$(node_ip "$i")" --v=1
	done

	# The apiserver, through the host-side forwarder, as the tests will use it.
	until kubectl_admin get --raw /readyz >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "kube-apiserver not ready in ${K8S_TIMEOUT}s"
		pid_alive "$(read_pid apiserver)" || die "kube-apiserver exited"
		pid_alive "$(read_pid etcd)" || die "etcd exited"
		sleep 0.25
	done
	ensure_namespace default

	# Both nodes registered and Ready.
	want=$K8S_NODES
	while :; do
		ready=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c '=True$' || true)
		((ready == want)) && break
		((SECONDS < deadline)) || die "$ready of $want nodes Ready after ${K8S_TIMEOUT}s: $(kubectl_admin get nodes 2>&1 | tr '\n' ';')"
		for ((i = 1; i <= K8S_NODES; i++)); do
			pid_alive "$(read_pid "node$i-kubelet")" || die "node$i's kubelet exited"
			pid_alive "$(read_pid "node$i-containerd")" || die "node$i's containerd exited"
		done
		sleep 0.25
	done

	UP_DONE=1
	trap - EXIT INT TERM
	name=$(for ((i = 1; i <= K8S_NODES; i++)); do node_name "$i"; done | tr '\n' ' ')
	log "up in $(elapsed "$t0")s: nodes ${name% }, KUBECONFIG=$ADMIN_KUBECONFIG (https://127.0.0.1:$port)"
}

# What the controller-manager would give a namespace and tests need: the
# default ServiceAccount (admission refuses pods without it) and the cluster
# CA ConfigMap (projected service account volumes mount it).
ensure_namespace() {
	local ns=$1
	kubectl_admin get namespace "$ns" >/dev/null 2>&1 || kubectl_admin create namespace "$ns" >/dev/null
	kubectl_admin -n "$ns" get serviceaccount default >/dev/null 2>&1 ||
		kubectl_admin -n "$ns" create serviceaccount default >/dev/null
	kubectl_admin -n "$ns" get configmap kube-root-ca.crt >/dev/null 2>&1 ||
		kubectl_admin -n "$ns" create configmap kube-root-ca.crt --from-file=ca.crt="$PKI/ca.crt" >/dev/null
}

do_down() {
	local t0 pid i ns d
	t0=$(date +%s.%N)
	cd /
	# The kubelets (so nothing restarts pods) and the API server (it drains
	# while etcd is still there) first; then, all at once, containerd, the
	# namespace holders, etcd and the forwarders; then every process left of
	# ours: shims and pods (throw-away, so one second of grace).
	local first=() rest=() n
	for ((i = 1; i <= 9; i++)); do
		if pid=$(live_pid "node$i-kubelet"); then first+=("$pid"); fi
		for n in containerd holder; do
			if pid=$(live_pid "node$i-$n"); then rest+=("$pid"); fi
		done
	done
	if pid=$(live_pid apiserver); then first+=("$pid"); fi
	if pid=$(live_pid host-fwd); then kill -TERM -- "-$pid" 2>/dev/null || true; rest+=("$pid"); fi
	for n in cp-fwd etcd; do
		if pid=$(live_pid "$n"); then rest+=("$pid"); fi
	done
	stop_pids 15 "${first[@]}"
	stop_pids 10 "${rest[@]}"
	K8S_NODES=9 sweep 1
	for ns in $(K8S_NODES=9 all_netns); do delete_netns "$ns"; done
	remove_cgroups
	sysctls_release
	release_run_netns "$K8S_STATE" "$MARKER"
	remove_state "$K8S_STATE" "$MARKER"
	# Say so, and fail, when anything of ours is still there.
	local left=()
	for ns in $(K8S_NODES=9 all_netns); do
		[[ -e /var/run/netns/$ns ]] && left+=("netns $ns")
	done
	for ((i = 1; i <= 9; i++)); do
		for d in $(existing_cgroups "$(node_cgroup "$i")"); do left+=("cgroup $d"); done
	done
	[[ -e $K8S_STATE && -e $MARKER ]] && left+=("state $K8S_STATE")
	if ((${#left[@]})); then
		log "error: down left behind: ${left[*]}"
		return 1
	fi
	log "down in $(elapsed "$t0")s"
}

do_status() {
	if is_up; then
		echo "up: $K8S_NODES nodes, apiserver https://127.0.0.1:$(<"$K8S_STATE/apiserver.port"), KUBECONFIG=$ADMIN_KUBECONFIG"
		return 0
	fi
	if [[ -e $MARKER ]] || ip netns list 2>/dev/null | grep -q "^$ID-k8s-"; then
		echo "degraded: leftovers of a previous run; run '$0 down' to clean up"
		return 1
	fi
	echo "down"
	return 1
}

do_env() {
	local i
	is_up || die "not up (run '$0 up')"
	resolve_bins
	printf 'export K8S_ID=%q\n' "$ID"
	printf 'export K8S_VERSION=%q\n' "$(sed -n 's/^KUBERNETES_VERSION=\([^ ]*\).*/\1/p' "$HERE/install-k8s.sh")"
	printf 'export KUBECONFIG=%q\n' "$ADMIN_KUBECONFIG"
	printf 'export K8S_SERVER=%q\n' "https://127.0.0.1:$(<"$K8S_STATE/apiserver.port")"
	printf 'export K8S_STATE=%q\n' "$K8S_STATE"
	printf 'export K8S_PKI=%q\n' "$PKI"
	printf 'export K8S_BIN=%q\n' "$K8S_BIN"
	printf 'export K8S_KUBECTL=%q\n' "$K8S_BIN/kubectl"
	printf 'export K8S_TOOLS_BIN=%q\n' "$K8S_STATE/bin"
	printf 'export K8S_SANDBOX_IMAGE=%q\n' "$SANDBOX_IMAGE"
	printf 'export K8S_APISERVER_PID=%q\n' "$(live_pid apiserver)"
	printf 'export K8S_ETCD_PID=%q\n' "$(live_pid etcd)"
	printf 'export K8S_CP_NETNS=%q\n' "$CP_NETNS"
	printf 'export K8S_NODES=%q\n' "$K8S_NODES"
	printf 'export K8S_NODE_NAMES=%q\n' "$(for ((i = 1; i <= K8S_NODES; i++)); do node_name "$i"; done | tr '\n' ' ' | sed 's/ $//')"
	for ((i = 1; i <= K8S_NODES; i++)); do
		printf 'export K8S_NODE%d_NAME=%q\n' "$i" "$(node_name "$i")"
		printf 'export K8S_NODE%d_IP=%q\n' "$i" "$(node_ip "$i")"
		printf 'export K8S_NODE%d_NETNS=%q\n' "$i" "$(node_netns "$i")"
		printf 'export K8S_NODE%d_HOLDER_PID=%q\n' "$i" "$(live_pid "node$i-holder")"
		printf 'export K8S_NODE%d_CONTAINERD_PID=%q\n' "$i" "$(live_pid "node$i-containerd")"
		printf 'export K8S_NODE%d_KUBELET_PID=%q\n' "$i" "$(live_pid "node$i-kubelet")"
		printf 'export K8S_NODE%d_CONTAINERD_SOCK=%q\n' "$i" "$(containerd_sock "$i")"
		printf 'export K8S_NODE%d_CGROUP=%q\n' "$i" "/$(node_cgroup "$i")"
	done
}

# node_indexes [NODE...]: the node numbers named (by node name), or all.
node_indexes() {
	local i n found
	if (($# == 0)); then
		for ((i = 1; i <= K8S_NODES; i++)); do echo "$i"; done
		return
	fi
	for n in "$@"; do
		found=0
		for ((i = 1; i <= K8S_NODES; i++)); do
			[[ $(node_name "$i") == "$n" ]] && { echo "$i"; found=1; }
		done
		((found)) || die "no node named '$n' (nodes: $(for ((i = 1; i <= K8S_NODES; i++)); do node_name "$i"; done | tr '\n' ' '))"
	done
}

do_load_image() {
	local f=${1:-} i idx
	[[ -n $f && -r $f ]] || die "usage: $0 load-image FILE [NODE...] (an image archive: OCI layout or docker save tar)"
	shift
	is_up || die "not up (run '$0 up')"
	resolve_bins
	idx=$(node_indexes "$@")
	for i in $idx; do import_image "$i" "$f"; done
}

do_remove_image() {
	local ref=${1:-} i idx
	[[ -n $ref ]] || die "usage: $0 remove-image REF [NODE...]"
	shift
	is_up || die "not up (run '$0 up')"
	resolve_bins
	idx=$(node_indexes "$@")
	for i in $idx; do ctr_node "$i" images rm "$ref" >/dev/null; done
}

main() {
	validate_settings
	# A running cluster knows how many nodes it has and which binaries it runs.
	WANT_NODES=$K8S_NODES
	if [[ -r $MARKER ]]; then
		K8S_NODES=$(sed -n 's/^nodes=//p' "$MARKER")
		[[ -n ${K8S_BIN:-} ]] || K8S_BIN=$(sed -n 's/^k8s_bin=//p' "$MARKER")
		[[ -n ${ENGINE_BIN:-} ]] || ENGINE_BIN=$(sed -n 's/^engine_bin=//p' "$MARKER")
	fi
	case ${1:-} in
	up)
		need_root
		do_up
		;;
	down)
		need_root
		do_down
		;;
	status) do_status ;;
	env) do_env ;;
	load-image)
		need_root
		shift
		do_load_image "$@"
		;;
	remove-image)
		need_root
		shift
		do_remove_image "$@"
		;;
	namespace)
		need_root
		is_up || die "not up (run '$0 up')"
		resolve_bins
		[[ -n ${2:-} ]] || die "usage: $0 namespace NAME"
		ensure_namespace "$2"
		;;
	kubectl)
		shift
		is_up || die "not up (run '$0 up')"
		resolve_bins
		kubectl_admin "$@"
		;;
	*)
		echo "usage: $0 up|down|status|env|load-image FILE [NODE...]|remove-image REF [NODE...]|namespace NAME|kubectl ARGS..." >&2
		exit 2
		;;
	esac
}

main "$@"
