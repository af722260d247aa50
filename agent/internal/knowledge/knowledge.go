package knowledge

import (
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Analyze fills rep.Knowledge and the interfaces' roles from the report's
// facts. names maps container ids to names (may be nil).
func Analyze(rep *probev1.Report, names map[string]string) {
	BridgeGateways(rep)
	NameLinks(rep, names)
	AssignRoles(rep, containerRefs(rep))
	k := &probev1.Knowledge{}
	k.DockerSubnet = DeriveDockerSubnet(rep, SettingsSubnet(rep.GetHost().GetDesktopSettings()))
	k.AddressPools = Pools(rep.GetDaemon())
	if rep.GetEngine() != nil {
		if next, err := NextSubnet(k.AddressPools, NetworkPrefixes(rep.GetEngine())); err == nil {
			k.NextNetworkSubnet = next
		}
	}
	if rep.GetDaemon().GetFound() {
		k.EffectiveConfig = EffectiveConfig(rep.GetDaemon())
	}
	k.Shares = Shares(rep)
	rep.Knowledge = k
}

// NameLinks sets container_name on the report's container links.
func NameLinks(rep *probev1.Report, names map[string]string) {
	for _, l := range rep.GetContainerLinks() {
		if n, ok := names[l.GetContainerId()]; ok {
			l.ContainerName = n
		}
	}
}

func containerRefs(rep *probev1.Report) []ContainerRef {
	var out []ContainerRef
	for _, l := range rep.GetContainerLinks() {
		if l.GetPeerIndex() == 0 {
			continue
		}
		name := l.GetContainerName()
		if name == "" {
			name = shortID(l.GetContainerId())
		}
		out = append(out, ContainerRef{Name: name, VMIndex: int(l.GetPeerIndex())})
	}
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	if id == "" {
		return "?"
	}
	return id
}
