package engine

import "strings"

// GOARCH maps an engine's architecture (Info.Architecture is uname -m, e.g.
// x86_64 or aarch64; Version.Arch is already a GOARCH) to the GOARCH of the
// probe binary that runs there. ok is false for an architecture we do not
// recognise.
func GOARCH(arch string) (goarch string, ok bool) {
	switch strings.ToLower(strings.TrimSpace(arch)) {
	case "x86_64", "amd64", "x86-64", "x64":
		return "amd64", true
	case "aarch64", "arm64", "armv8", "armv8l", "arm64/v8":
		return "arm64", true
	case "armv7l", "armv7", "armv6l", "armhf", "arm":
		return "arm", true
	case "i386", "i686", "x86", "386":
		return "386", true
	case "ppc64le":
		return "ppc64le", true
	case "s390x":
		return "s390x", true
	case "riscv64":
		return "riscv64", true
	}
	return "", false
}
