package containerd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/dockprobe/dockprobe/internal/cni"
	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// CNIConfDir is where nerdctl, k3s and the CNI plugins keep network
// configurations.
const CNIConfDir = "/etc/cni/net.d"

// maxCNIFiles bounds how many configurations are read.
const maxCNIFiles = 64

// CNINetworks reads the CNI network configurations in dir inside pid's
// root, in file name order (the order CNI itself uses): *.conflist,
// *.conf and *.json. A file that does not parse is reported by file name
// with the error in its options, so one bad file never hides the others.
// A missing directory is no networks, not an error.
func CNINetworks(fsys *hostfs.FS, pid int, dir string) ([]*probev1.Network, error) {
	entries, err := fsys.ReadDirInRoot(pid, dir, maxCNIFiles*4)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.Regular {
			continue
		}
		switch path.Ext(e.Name) {
		case ".conflist", ".conf", ".json":
			names = append(names, e.Name)
		}
	}
	sort.Strings(names)
	if len(names) > maxCNIFiles {
		names = names[:maxCNIFiles]
	}
	var nets []*probev1.Network
	for _, name := range names {
		file := path.Join(dir, name)
		b, err := fsys.ReadInRoot(pid, file, cni.MaxSize)
		if err != nil {
			nets = append(nets, badNetwork(file, err))
			continue
		}
		n, err := cni.Parse(bytes.NewReader(b))
		if err != nil {
			nets = append(nets, badNetwork(file, err))
			continue
		}
		nets = append(nets, n.Proto(file))
	}
	return nets, nil
}

func badNetwork(file string, err error) *probev1.Network {
	return &probev1.Network{
		Name:    strings.TrimSuffix(path.Base(file), path.Ext(file)),
		Options: map[string]string{"cni.file": file, "cni.error": fmt.Sprint(err)},
	}
}

// CNIConfDirs are the directories to read CNI networks from for a
// containerd: /etc/cni/net.d (nerdctl's) and the CRI plugin's conf_dir
// when its config names another (k3s on Rancher Desktop keeps flannel's in
// /var/lib/rancher/k3s/agent/etc/cni/net.d).
func CNIConfDirs(d *probev1.Daemon) []string {
	dirs := []string{CNIConfDir}
	cfg := d.GetConfig().GetStructValue()
	// The CRI plugin's key: split in three in containerd 2.0, where its
	// networking went to cri.v1.runtime.
	for _, plugin := range []string{"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"} {
		dir := stringAt(cfg, "plugins", plugin, "cni", "conf_dir")
		if dir != "" && !slices.Contains(dirs, path.Clean(dir)) {
			dirs = append(dirs, path.Clean(dir))
		}
	}
	return dirs
}
