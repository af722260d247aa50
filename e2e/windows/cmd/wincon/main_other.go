//go:build !windows

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wincon: Windows only (run it under Wine: see e2e/windows/prepare.sh)")
	os.Exit(2)
}
