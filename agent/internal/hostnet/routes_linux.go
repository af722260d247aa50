package hostnet

import (
	"os"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Routes reads the main IPv4 route table from /proc/net/route.
func Routes() ([]*probev1.Route, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseProcRoute(f)
}
