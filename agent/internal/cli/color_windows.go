package cli

import (
	"os"

	"golang.org/x/sys/windows"
)

// enableANSI turns on the console's VT processing, which Windows 10 and
// later consoles support but legacy conhost leaves off; without it ANSI
// codes would print as garbage, so colour is used only when it succeeds.
func enableANSI(f *os.File) bool {
	h := windows.Handle(f.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
