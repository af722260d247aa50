package knowledge

import (
	"fmt"
	"path"
	"slices"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Host-share roots: the Kubernetes-visible one and dockerd's own.
const (
	ShareRootDesktop = "/run/desktop/mnt/host"
	ShareRootMnt     = "/mnt/host"
)

// Shares describes each host-share mount point (a direct child of either
// root) of the target's mount table, with the processes that see it.
func Shares(rep *probev1.Report) []*probev1.SharePath {
	var out []*probev1.SharePath
	for _, m := range rep.GetMounts() {
		mp := m.GetMountPoint()
		dir := path.Dir(mp)
		if dir != ShareRootDesktop && dir != ShareRootMnt {
			continue
		}
		out = append(out, &probev1.SharePath{
			Path: mp, MountId: m.GetId(), Source: m.GetSource(), MajorMinor: m.GetMajorMinor(),
			FsType: m.GetFsType(), Propagation: m.GetPropagation(), Root: m.GetRoot(),
		})
	}
	for _, s := range out {
		for _, o := range out {
			if o != s && o.MajorMinor == s.MajorMinor && o.Root == s.Root && path.Base(o.Path) == path.Base(s.Path) {
				s.SameFilesystemAs = o.Path
			}
		}
		for _, v := range rep.GetMountViews() {
			who := fmt.Sprintf("%s %d (%s)", v.GetComm(), v.GetPid(), v.GetMntNamespace())
			if v.GetError() != "" {
				continue
			}
			if viewHas(rep, v, s.Path) {
				s.SeenBy = append(s.SeenBy, who)
			} else {
				s.NotSeenBy = append(s.NotSeenBy, who)
			}
		}
	}
	return out
}

// viewHas reports whether a mount view contains mount point p; a view
// whose namespace was already read (no mounts of its own) borrows the
// mounts of the view with the same namespace.
func viewHas(rep *probev1.Report, v *probev1.MountView, p string) bool {
	src := v
	if len(v.GetMounts()) == 0 {
		for _, o := range rep.GetMountViews() {
			if o.GetMntNamespace() == v.GetMntNamespace() && len(o.GetMounts()) > 0 {
				src = o
				break
			}
		}
	}
	return slices.ContainsFunc(src.GetMounts(), func(m *probev1.Mount) bool { return m.GetMountPoint() == p })
}

// ShareFor returns the share under root for drive (c, d, wsl...), or nil.
func ShareFor(shares []*probev1.SharePath, root, drive string) *probev1.SharePath {
	for _, s := range shares {
		if s.Path == root+"/"+drive {
			return s
		}
	}
	return nil
}

// IsShared reports whether a propagation value receives and sends mount
// events to peers (shared or shared+slave).
func IsShared(prop string) bool { return strings.HasPrefix(prop, "shared") }
