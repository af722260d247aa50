package hostfs

import (
	"fmt"
	"os"
	"path/filepath"
)

// globalFileCaps lists the files directly below the procfs root that the
// probe may read, with the most it reads of each: the VM's memory and its
// kernel counters (issue 13). Neither is per process nor holds secrets.
var globalFileCaps = map[string]int64{
	"meminfo": 64 << 10,
	"vmstat":  64 << 10,
}

// ReadGlobal reads an allowlisted file below the procfs root (meminfo,
// vmstat).
func (fs *FS) ReadGlobal(name string) ([]byte, error) {
	limit, ok := globalFileCaps[name]
	if !ok {
		return nil, fmt.Errorf("read /proc/%s: %w", name, ErrNotAllowed)
	}
	f, err := os.Open(filepath.Join(fs.root(), name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(f, limit)
}

// NetSysctls are the /proc/sys files ReadNetSysctls may read: the IP
// forwarding switches of a network namespace.
var NetSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv6/conf/all/forwarding",
	"net/ipv6/conf/all/disable_ipv6",
}

// Statfs is what StatfsInRoot reports: sizes in bytes, inode counts.
type Statfs struct {
	Total, Free, Avail uint64
	Files, FilesFree   uint64
}
