package mounts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/sys/mountinfo"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// MaxLine is the longest mountinfo line parsed; the kernel escapes a path
// of up to PATH_MAX (4 KiB) into at most four bytes per byte, twice (root
// and mount point), plus options.
const MaxLine = 64 << 10

// maxLineErrors bounds how many bad lines one error quotes.
const maxLineErrors = 5

// Parse reads a mountinfo file line by line. A malformed line is an error
// for that line only: the mounts of every other line are returned with an
// ErrParse error that quotes the bad lines (the library's
// GetMountsFromReader gives up on the whole file at the first one).
// GetMountsFromReader exists only in the library's Linux build, hence this
// file's suffix; Convert and ParsePropagation, which hold this package's
// own logic, are untagged.
//
// The common case, a well-formed file, is parsed in one library call: a
// scanner per line cost most of the collection's time at 10,000 mounts.
// Only when that call fails is the input parsed again line by line, to
// keep every good line and say which ones are bad.
func Parse(r io.Reader) ([]*probev1.Mount, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if infos, err := mountinfo.GetMountsFromReader(bytes.NewReader(b), nil); err == nil {
		out := make([]*probev1.Mount, len(infos))
		for i, m := range infos {
			out[i] = Convert(m)
		}
		return out, nil
	}
	return parseLines(bytes.NewReader(b))
}

// parseLines is Parse's slow path: one library call per line, so that a
// malformed line costs only itself.
func parseLines(r io.Reader) ([]*probev1.Mount, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	var (
		out  []*probev1.Mount
		errs []error
		bad  int
		n    int
	)
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		infos, err := mountinfo.GetMountsFromReader(strings.NewReader(line), nil)
		if err == nil && len(infos) != 1 {
			err = fmt.Errorf("%d mounts in one line", len(infos))
		}
		if err != nil {
			bad++
			if bad <= maxLineErrors {
				errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			}
			continue
		}
		out = append(out, Convert(infos[0]))
	}
	if err := sc.Err(); err != nil {
		// A line over MaxLine: what came before is kept.
		bad++
		errs = append(errs, fmt.Errorf("line %d: %w", n+1, err))
	}
	if bad == 0 {
		return out, nil
	}
	if bad > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more malformed lines", bad-len(errs)))
	}
	return out, wrapParse(errors.Join(errs...))
}

func wrapParse(err error) error {
	return fmt.Errorf("%w: %w", ErrParse, err)
}
