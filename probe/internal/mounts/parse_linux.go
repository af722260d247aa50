package mounts

import (
	"fmt"
	"io"

	"github.com/moby/sys/mountinfo"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Parse reads a mountinfo file. GetMountsFromReader exists only in the
// library's Linux build, hence this file's suffix; Convert and
// ParsePropagation, which hold this package's own logic, are untagged.
func Parse(r io.Reader) ([]*probev1.Mount, error) {
	infos, err := mountinfo.GetMountsFromReader(r, nil)
	if err != nil {
		return nil, wrapParse(err)
	}
	out := make([]*probev1.Mount, len(infos))
	for i, m := range infos {
		out[i] = Convert(m)
	}
	return out, nil
}

func wrapParse(err error) error {
	return fmt.Errorf("%w: %w", ErrParse, err)
}
