// Package windows is the Windows end-to-end suite: it runs the real
// agent-windows-amd64.exe under Wine (prepare.sh makes the prefix) against
// a LinuxKit-shaped engine of its own (e2e/lkenv), through Docker Desktop's
// named pipe, docker contexts under %USERPROFILE%\.docker and TLS over TCP,
// and checks what only the Windows build does: its JSON as PowerShell reads
// it, %APPDATA%\Docker settings, console Ctrl-C, kills, pipe errors and VT
// colour. `make e2e-windows` runs it (DOCKPROBE_E2E_WINDOWS=1, root).
package windows
