package knowledge

import (
	"fmt"
	"strings"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Interface roles, as Interface.role carries them.
const (
	RoleVM       = "vm"         // eth0: the VM's address in the Docker subnet
	RoleBridge   = "bridge"     // docker0 or br-<id>: a Docker bridge network
	RoleVeth     = "veth"       // one end of a container's link
	RoleKubePods = "kubernetes" // cni0: the Kubernetes pod network
	RoleServices = "services"   // services1: Docker Desktop's service address
	RoleLoopback = "loopback"
	RoleUnknown  = "unknown"
)

// ContainerRef is a container's network link, as the probe saw it from
// inside the container: a VM veth belongs to the container whose link's
// peer is that veth's ifindex (unique in the VM's namespace, unlike the
// containers' own ifindexes, which repeat across namespaces).
type ContainerRef struct {
	Name string
	// VMIndex is the ifindex, in the VM's namespace, of the veth end
	// opposite the container's interface.
	VMIndex int
	// Network is the network the endpoint belongs to.
	Network string
}

// AssignRoles sets Interface.role and Interface.meaning on every
// interface of the report. containers may be nil; veths are then named by
// the bridge they hang off only.
func AssignRoles(rep *probev1.Report, containers []ContainerRef) {
	bridges := map[string]*probev1.Network{}
	for _, n := range rep.GetEngine().GetNetworks() {
		if b := BridgeName(n); b != "" {
			bridges[b] = n
		}
	}
	for _, ifc := range rep.GetInterfaces() {
		ifc.Role, ifc.Meaning = role(ifc, bridges, containers)
	}
}

// BridgeName is the Linux bridge behind a bridge network: the engine's
// com.docker.network.bridge.name option, docker0 for the default bridge,
// otherwise br-<first 12 of the id>.
func BridgeName(n *probev1.Network) string {
	if n.GetDriver() != "bridge" {
		return ""
	}
	if b := n.GetBridge(); b != "" {
		return b
	}
	if b := n.GetOptions()["com.docker.network.bridge.name"]; b != "" {
		return b
	}
	if n.GetName() == "bridge" {
		return "docker0"
	}
	if id := n.GetId(); len(id) >= 12 {
		return "br-" + id[:12]
	}
	return ""
}

func role(ifc *probev1.Interface, bridges map[string]*probev1.Network, containers []ContainerRef) (string, string) {
	name := ifc.GetName()
	if n, ok := bridges[name]; ok {
		if n.GetName() == "bridge" {
			return RoleBridge, "Docker's default `bridge` network" + subnetSuffix(n)
		}
		return RoleBridge, fmt.Sprintf("the Docker network %q%s", n.GetName(), subnetSuffix(n))
	}
	switch {
	case name == "lo" || hasFlag(ifc, "loopback"):
		return RoleLoopback, "loopback"
	case name == "eth0":
		return RoleVM, "the VM's own address in the Docker subnet (where dockerd runs)"
	case name == "cni0":
		return RoleKubePods, "the Kubernetes pod network: Kubernetes is enabled"
	case strings.HasPrefix(name, "flannel."), strings.HasPrefix(name, "flannel-"):
		// k3s (Rancher Desktop) carries pod traffic between nodes on
		// flannel's VXLAN or WireGuard link beside cni0.
		return RoleKubePods, "k3s's flannel overlay for the Kubernetes pod network (Rancher Desktop)"
	case name == "services1":
		return RoleServices, "Docker Desktop's service address (services1)"
	case name == "docker0":
		return RoleBridge, "Docker's default `bridge` network"
	case strings.HasPrefix(name, "br-"):
		return RoleBridge, "a Docker bridge network the engine did not list (removed or another engine's)"
	case ifc.GetKind() == "veth" || strings.HasPrefix(name, "veth"):
		return RoleVeth, vethMeaning(ifc, bridges, containers)
	}
	return RoleUnknown, "not one Docker Desktop creates"
}

func vethMeaning(ifc *probev1.Interface, bridges map[string]*probev1.Network, containers []ContainerRef) string {
	netName := ""
	if n, ok := bridges[ifc.GetMaster()]; ok {
		netName = n.GetName()
	}
	peer := int(ifc.GetPeerIndex())
	var match []string
	for _, c := range containers {
		if c.VMIndex == 0 || c.VMIndex != int(ifc.GetIndex()) {
			continue
		}
		if netName != "" && c.Network != "" && c.Network != netName {
			continue
		}
		match = append(match, c.Name)
	}
	switch {
	case len(match) == 1 && netName != "":
		return fmt.Sprintf("container %s on network %q (peer ifindex %d)", match[0], netName, peer)
	case len(match) == 1:
		return fmt.Sprintf("container %s (peer ifindex %d)", match[0], peer)
	case len(match) > 1:
		return fmt.Sprintf("one of containers %s (peer ifindex %d is not unique)", strings.Join(match, ", "), peer)
	case netName != "":
		return fmt.Sprintf("a container's link on network %q (peer ifindex %d; no running container matched)", netName, peer)
	case ifc.GetMaster() == "cni0":
		return fmt.Sprintf("a Kubernetes pod's link on cni0 (peer ifindex %d)", peer)
	case ifc.GetMaster() != "":
		return fmt.Sprintf("a link enslaved to %s", ifc.GetMaster())
	}
	return "a veth not attached to a Docker bridge"
}

func subnetSuffix(n *probev1.Network) string {
	for _, s := range n.GetSubnets() {
		if s.GetSubnet() != "" {
			return " (" + s.GetSubnet() + ")"
		}
	}
	return ""
}

func hasFlag(ifc *probev1.Interface, flag string) bool {
	for _, f := range ifc.GetFlags() {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}
