package knowledge

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// SettingsFile is where Docker Desktop keeps its settings for goos, given
// the user's home and (Windows) %APPDATA%. Versions up to 4.34 called it
// settings.json; the caller may try that name in the same directory.
func SettingsFile(goos, home, appData string) string {
	switch goos {
	case "windows":
		if appData == "" {
			appData = filepath.Join(home, "AppData", "Roaming")
		}
		return filepath.Join(appData, "Docker", "settings-store.json")
	case "darwin":
		return filepath.Join(home, "Library", "Group Containers", "group.com.docker", "settings-store.json")
	}
	return filepath.Join(home, ".docker", "desktop", "settings-store.json")
}

// subnetKeys are the settings that hold the Docker subnet, lower-cased.
var subnetKeys = []string{"vpnkitcidr", "dockersubnet", "linuxvmsubnet"}

// networkKeys are the settings worth reporting, lower-cased prefixes.
var networkKeys = []string{"vpnkit", "dockersubnet", "linuxvm", "kubernetesenabled", "networkingmode", "hostnetworking", "enablehostnetworking", "usevpnkit", "networktype"}

// ParseSettings reads a settings-store.json and keeps its network-related
// values, keys matched case-insensitively.
func ParseSettings(r io.Reader) (map[string]string, error) {
	var m map[string]any
	if err := json.NewDecoder(io.LimitReader(r, 4<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("settings file: invalid JSON: %w", err)
	}
	out := map[string]string{}
	for k, v := range m {
		lk := strings.ToLower(k)
		for _, p := range networkKeys {
			if strings.HasPrefix(lk, p) {
				out[k] = fmt.Sprint(v)
			}
		}
	}
	return out, nil
}

// SettingsSubnet returns the Docker subnet a settings file asks for.
func SettingsSubnet(s *probev1.DesktopSettings) string {
	for k, v := range s.GetValues() {
		for _, sk := range subnetKeys {
			if strings.ToLower(k) == sk && v != "" {
				return v
			}
		}
	}
	return ""
}
