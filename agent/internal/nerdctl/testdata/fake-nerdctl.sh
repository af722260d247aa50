#!/bin/sh
# A stand-in for nerdctl: answers the subcommands the agent uses with
# captures from nerdctl v1.7.7 on containerd 1.6.20, and logs every
# invocation to $FAKE_LOG.
echo "$*" >>"${FAKE_LOG:-/dev/null}"
while [ "$#" -gt 0 ]; do
	case $1 in
	--address | --namespace) shift 2 ;;
	*) break ;;
	esac
done
case "$1 $2" in
"version --format")
	[ -n "$FAKE_DOWN" ] && { echo 'time="2026-11-29T20:49:10Z" level=fatal msg="cannot access containerd socket \"/run/containerd/containerd.sock\": no such file or directory"' >&2; exit 1; }
	cat "$FAKE_DIR/version.json" ;;
"info --format")
	[ -n "$FAKE_DOWN" ] && exit 1
	cat "$FAKE_DIR/info.json" ;;
"network ls")
	cat "$FAKE_DIR/network-ls.txt" ;;
"network inspect")
	cat "$FAKE_DIR/network-inspect-native.json" ;;
"image inspect")
	[ -n "$FAKE_IMAGE_LABELS" ] && { echo "$FAKE_IMAGE_LABELS"; exit 0; }
	echo 'time="2026-11-29T20:49:10Z" level=fatal msg="no such image: dockprobe/probe:dev"' >&2; exit 1 ;;
"load ")
	cat >"$FAKE_DIR/loaded.tar"; echo "Loaded image: dockprobe/probe:dev" ;;
"rm -f")
	echo "$3" ;;
*)
	case $1 in
	run)
		[ -n "$FAKE_RUN_FAIL" ] && { echo "time=\"2026-11-29T20:49:10Z\" level=fatal msg=\"$FAKE_RUN_FAIL\"" >&2; exit 1; }
		exec cat ;;
	esac
	echo "fake nerdctl: unexpected: $*" >&2; exit 2 ;;
esac
