//go:build !windows

package engine

import "syscall"

// errConnRefused is what a dial to a port or socket nobody serves returns.
var errConnRefused error = syscall.ECONNREFUSED
