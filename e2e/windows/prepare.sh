#!/usr/bin/env bash
# prepare.sh - get everything the Windows e2e suite needs to run the real
# agent-windows-amd64.exe under Wine. Idempotent: run it as often as you like.
#
# Usage: prepare.sh            prepare, then print `export NAME=value` lines
#
#   * the Wine prefix (WINEARCH=win64), cached OUTSIDE the repo in
#     $DOCKPROBE_WINE_CACHE/prefix (default /var/cache/dockprobe/wine/prefix)
#     and rebuilt only when it is missing, half-made (no stamp) or was made by
#     another Wine version. `wineboot -i` takes ~10 s, the prefix ~700 MB.
#   * bcryptprimitives.dll (shim/bcryptprimitives.c, gcc-mingw-w64-x86-64)
#     copied into the prefix's system32: Wine 8 lacks ProcessPrng, which every
#     Go 1.24+ Windows binary calls at start-up. Recopied when the source changes.
#   * npiperelay.exe and wincon.exe (./cmd/...; GOOS=windows) in
#     $DOCKPROBE_WINE_BIN (default <repo>/bin/e2e-windows), rebuilt by go build
#     (its cache makes that instant when nothing changed).
#
# Every failure is one line saying what to install or do; nothing is skipped.
# Everything that uses the prefix (this script, the suite) is serialised on
# $DOCKPROBE_WINE_CACHE/prefix.lock; the suite, holding it already, sets
# DOCKPROBE_WINE_LOCK_HELD=1. The script ends with no Wine process running
# (wineserver -k): Wine's service processes would otherwise keep the
# caller's stdout and stderr open.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${DOCKPROBE_WINE_CACHE:-/var/cache/dockprobe/wine}
prefix=$cache/prefix
bindir=${DOCKPROBE_WINE_BIN:-$repo/bin/e2e-windows}
stamp=$prefix/.dockprobe-prefix

log() { printf 'prepare-wine: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

for c in wine wineboot wineserver x86_64-w64-mingw32-gcc go flock sha256sum; do
	command -v "$c" >/dev/null 2>&1 ||
		die "missing command $c: apt-get install wine wine64 gcc-mingw-w64-x86-64 util-linux (and Go)"
done
# Debian's wine package needs wine64 for a win64 prefix.
[[ -x /usr/lib/wine/wine64 ]] || command -v wine64 >/dev/null 2>&1 || die "missing wine64: apt-get install wine64"

mkdir -p "$cache" "$bindir"
if [[ ${DOCKPROBE_WINE_LOCK_HELD:-} != 1 ]]; then
	exec 9>"$cache/prefix.lock"
	flock 9
fi

export WINEPREFIX=$prefix WINEARCH=win64 WINEDEBUG=-all
wine_version=$(wine --version 2>/dev/null) || die "wine --version failed: is the wine package complete?"

# 1. The prefix: made once, kept. The stamp is written last, so a prefix
#    whose making was interrupted is made again rather than trusted.
want="$wine_version win64"
if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
	if [[ -e $prefix ]]; then
		log "prefix $prefix is incomplete or from another Wine; making it again"
		wineserver -k </dev/null >/dev/null 2>&1 || true
		rm -rf "$prefix"
	fi
	log "making the Wine prefix $prefix ($wine_version)"
	start=$(date +%s%N)
	# No Mono or Gecko: there is no display to ask on and no network to fetch them.
	WINEDLLOVERRIDES='mscoree,mshtml=' wineboot -i </dev/null >"$cache/wineboot.log" 2>&1 ||
		die "wineboot -i failed (log: $cache/wineboot.log)"
	wineserver -w </dev/null >/dev/null 2>&1 # the registry is written when the server exits
	[[ -d $prefix/drive_c/windows/system32 ]] || die "wineboot made no drive_c/windows/system32 in $prefix (log: $cache/wineboot.log)"
	printf '%s\n' "$want" >"$stamp"
	log "prefix made in $((($(date +%s%N) - start) / 1000000)) ms"
fi

# 2. The ProcessPrng shim, rebuilt when its source changes.
sys32=$prefix/drive_c/windows/system32
src=$here/shim/bcryptprimitives.c
src_sum=$(sha256sum "$src" | cut -d' ' -f1)
if [[ ! -f $sys32/bcryptprimitives.dll || ! -f $cache/shim.sha256 || $(<"$cache/shim.sha256") != "$src_sum" ]]; then
	log "building bcryptprimitives.dll (ProcessPrng shim)"
	x86_64-w64-mingw32-gcc -shared -O2 -s -Wall -o "$cache/bcryptprimitives.dll" "$src" -ladvapi32 ||
		die "building the ProcessPrng shim failed"
	cp "$cache/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"
	printf '%s\n' "$src_sum" >"$cache/shim.sha256"
fi

# 3. The Windows helpers, from this repo's source.
for cmd in npiperelay wincon; do
	(cd "$repo" && CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -o "$bindir/$cmd.exe" "./e2e/windows/cmd/$cmd") ||
		die "go build ./e2e/windows/cmd/$cmd (GOOS=windows) failed"
done

# 4. Proof that a Go Windows binary starts in this prefix (the shim works).
wine "$bindir/wincon.exe" ping </dev/null >"$cache/ping.log" 2>&1 ||
	die "a Go Windows binary does not start under Wine: $(tr '\n' ' ' <"$cache/ping.log")"
grep -q pong "$cache/ping.log" || die "wincon.exe ping answered '$(tr '\n' ' ' <"$cache/ping.log")', not pong"
wineserver -k </dev/null >/dev/null 2>&1 || true

printf 'export WINEPREFIX=%q\n' "$prefix"
printf 'export WINEARCH=win64\n'
printf 'export WINEDEBUG=-all\n'
printf 'export DOCKPROBE_WINE_BIN=%q\n' "$bindir"
printf 'export DOCKPROBE_WINE_VERSION=%q\n' "$wine_version"
