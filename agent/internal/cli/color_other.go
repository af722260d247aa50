//go:build !windows

package cli

import "os"

// enableANSI: Unix terminals understand ANSI codes.
func enableANSI(*os.File) bool { return true }
