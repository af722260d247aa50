// Package pathmap translates a path between its Windows, WSL and Docker
// Desktop VM spellings: a Windows path gives the docker bind-mount form,
// the Kubernetes hostPath form (/run/desktop/mnt/host/<drive>/...), the
// form dockerd's own namespace uses (/mnt/host/<drive>/...) and the WSL
// form (/mnt/<drive>/...); a VM or WSL path goes back to Windows. It is
// pure string work: it never touches the file system.
package pathmap

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrUnrecognized marks a path in no form the translator knows.
var ErrUnrecognized = errors.New("not a Windows, WSL or Docker Desktop VM path")

// Forms are one location's spellings.
type Forms struct {
	// Windows is C:\temp\WebApplication1.
	Windows string `json:"windows,omitempty"`
	// Drive is the lower-case drive letter ("c"), or "wsl"/"wslg" for
	// the WSL shared mounts (/mnt/wsl, /mnt/wslg in every distro).
	Drive string `json:"drive,omitempty"`
	// Rel is the path below the drive, share or distro root.
	Rel string `json:"rel"`
	// BindMount is what `docker run -v` takes: C:/temp/... from Windows,
	// or the distro path when run from inside a WSL distro.
	BindMount string `json:"bindMount,omitempty"`
	// HostPath is the Kubernetes hostPath form; empty when there is none.
	HostPath string `json:"kubernetesHostPath,omitempty"`
	// VM is the path in dockerd's own mount namespace.
	VM string `json:"vm,omitempty"`
	// WSL is the path from inside a WSL distro (/mnt/c/..., /mnt/wsl/...).
	WSL string `json:"wsl,omitempty"`
	// Distro and UNC are set for a path given as \\wsl$\<distro>\...
	Distro string `json:"distro,omitempty"`
	UNC    string `json:"unc,omitempty"`
	// Note says what a form cannot do.
	Note string `json:"note,omitempty"`
}

// Translate recognises p in any form and returns all of them. p is taken
// as given (callers trim what a shell or a copy left around it).
func Translate(p string) (Forms, error) {
	switch {
	case len(p) >= 2 && p[1] == ':' && isLetter(p[0]):
		return fromDrive(strings.ToLower(p[:1]), p[2:]), nil
	case hasPrefixFold(p, `\\wsl$\`) || hasPrefixFold(p, `\\wsl.localhost\`):
		rest := p[strings.Index(p[2:], `\`)+3:]
		distro, rel, _ := strings.Cut(strings.ReplaceAll(rest, `\`, "/"), "/")
		if distro == "" {
			return Forms{}, fmt.Errorf("%w: %q has no distro name", ErrUnrecognized, p)
		}
		rel = clean(rel)
		var f Forms
		if top, below, ok := underMnt(rel); ok {
			f = fromMnt(top, below)
		} else {
			f = Forms{Rel: rel, WSL: "/" + rel, BindMount: "/" + rel,
				Note: "a file inside the " + distro + " distro: bind-mount it from a shell in that distro (Docker Desktop's WSL integration maps it); Kubernetes hostPath cannot reach a distro's own files: put them on a Windows drive or under /mnt/wsl"}
		}
		f.Distro = distro
		f.UNC = `\\wsl$\` + distro + strings.ReplaceAll(f.WSL, "/", `\`)
		return f, nil
	}
	q := strings.ReplaceAll(p, `\`, "/")
	for _, root := range []string{"/run/desktop/mnt/host/", "/mnt/host/"} {
		if rest, ok := strings.CutPrefix(q+"/", root); ok {
			top, rel, _ := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
			if len(top) == 1 && isLetter(top[0]) {
				return fromDrive(strings.ToLower(top), "/"+rel), nil
			}
			if top == "wsl" || top == "wslg" {
				return fromShare(top, rel), nil
			}
		}
	}
	if top, rel, ok := underMnt(strings.TrimPrefix(q, "/")); ok && strings.HasPrefix(q, "/") {
		return fromMnt(top, rel), nil
	}
	return Forms{}, fmt.Errorf("%w: %q", ErrUnrecognized, p)
}

// underMnt splits "mnt/<top>/<rest>" where top is a drive letter, wsl or
// wslg: the places a WSL distro sees Windows drives and the shared mounts.
func underMnt(rel string) (top, rest string, ok bool) {
	after, found := strings.CutPrefix(rel+"/", "mnt/")
	if !found {
		return "", "", false
	}
	top, rest, _ = strings.Cut(strings.TrimSuffix(after, "/"), "/")
	if (len(top) == 1 && isLetter(top[0])) || top == "wsl" || top == "wslg" {
		return strings.ToLower(top), rest, true
	}
	return "", "", false
}

func fromMnt(top, rel string) Forms {
	if len(top) == 1 {
		return fromDrive(top, "/"+rel)
	}
	return fromShare(top, rel)
}

// fromShare is a path in the WSL shared mounts: /mnt/wsl (a tmpfs every
// distro shares) and /mnt/wslg, which the VM has under the host shares.
func fromShare(top, rel string) Forms {
	rel = clean(rel)
	suffix := ""
	if rel != "" {
		suffix = "/" + rel
	}
	return Forms{Drive: top, Rel: rel,
		HostPath:  ShareRoot + "/" + top + suffix,
		VM:        "/mnt/host/" + top + suffix,
		WSL:       "/mnt/" + top + suffix,
		BindMount: "/mnt/" + top + suffix,
	}
}

// ShareRoot is where the VM has the host's drives for Kubernetes.
const ShareRoot = "/run/desktop/mnt/host"

func fromDrive(drive, rest string) Forms {
	rel := clean(strings.ReplaceAll(rest, `\`, "/"))
	win := strings.ToUpper(drive) + `:\` + strings.ReplaceAll(rel, "/", `\`)
	bind := strings.ToUpper(drive) + ":/" + rel
	suffix := "/" + rel
	if rel == "" {
		suffix = ""
	}
	return Forms{
		Windows: win, Drive: drive, Rel: rel, BindMount: bind,
		HostPath: ShareRoot + "/" + drive + suffix,
		VM:       "/mnt/host/" + drive + suffix,
		WSL:      "/mnt/" + drive + suffix,
	}
}

func clean(rel string) string {
	rel = path.Clean("/" + rel)
	return strings.TrimPrefix(rel, "/")
}

func isLetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
