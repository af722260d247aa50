package hostproxy

import (
	"golang.org/x/sys/windows/registry"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// internetSettings reads the current user's Internet Settings proxy (what
// Docker Desktop offers to use as "system proxy"); nil when it is off or
// cannot be read.
func internetSettings() *probev1.ProxySetting {
	k, err := registry.OpenKey(registry.CURRENT_USER, `Software\Microsoft\Windows\CurrentVersion\Internet Settings`, registry.QUERY_VALUE)
	if err != nil {
		return nil
	}
	defer k.Close()
	if on, _, err := k.GetIntegerValue("ProxyEnable"); err != nil || on == 0 {
		return nil
	}
	server, _, err := k.GetStringValue("ProxyServer")
	if err != nil || server == "" {
		return nil
	}
	override, _, _ := k.GetStringValue("ProxyOverride")
	return ParseInternetSettings(server, override)
}
