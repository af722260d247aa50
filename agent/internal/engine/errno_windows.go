//go:build windows

package engine

import "syscall"

// errConnRefused is WSAECONNREFUSED; syscall.ECONNREFUSED is an invented
// value on Windows that no dial returns.
var errConnRefused error = syscall.Errno(10061)
