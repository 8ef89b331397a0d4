package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Standard switches and the host's view of its network. ESXi reports a host's
// switches, port groups and VMkernel adapters twice: in the HostNetworkSystem's
// networkInfo and in the HostSystem's config.network. The simulator keeps only
// the first, so every change the lab makes is copied to the second here. A
// switch carries its MTU (1500 unless set); jumbo frames need it raised on
// the switch as well as on the VMkernel adapter.

const defaultMTU = 1500

// syncHostNetwork copies the network system's switches, port groups and
// adapters into the host's config.network, giving switches their default MTU.
func syncHostNetwork(h *simulator.HostSystem) {
	if h.ConfigManager.NetworkSystem == nil || h.Config == nil || h.Config.Network == nil {
		return
	}
	ns, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
	if !ok || ns.NetworkInfo == nil {
		return
	}
	for i := range ns.NetworkInfo.Vswitch {
		vs := &ns.NetworkInfo.Vswitch[i]
		if vs.Mtu == 0 {
			vs.Mtu = defaultMTU
		}
		if vs.Spec.Mtu == 0 {
			vs.Spec.Mtu = vs.Mtu
		}
		if vs.Key == "" {
			vs.Key = "key-vim.host.VirtualSwitch-" + vs.Name
		}
	}
	for i := range ns.NetworkInfo.Vnic {
		if ns.NetworkInfo.Vnic[i].Spec.NetStackInstanceKey == "" {
			// "defaultTcpipStack" when unset (API reference, HostVirtualNicSpec.netStackInstanceKey)
			ns.NetworkInfo.Vnic[i].Spec.NetStackInstanceKey = "defaultTcpipStack"
		}
	}
	if len(ns.NetworkInfo.Pnic) == 0 {
		ns.NetworkInfo.Pnic = append([]types.PhysicalNic(nil), h.Config.Network.Pnic...)
	}
	net := *h.Config.Network
	net.Vswitch = append([]types.HostVirtualSwitch(nil), ns.NetworkInfo.Vswitch...)
	net.Portgroup = append([]types.HostPortGroup(nil), ns.NetworkInfo.Portgroup...)
	net.Vnic = append([]types.HostVirtualNic(nil), ns.NetworkInfo.Vnic...)
	h.Config.Network = &net
	ns.NetworkConfig = networkConfig(ns.NetworkInfo)
	simulator.Map.Update(ns, []types.PropertyChange{{Name: "networkInfo", Val: ns.NetworkInfo},
		{Name: "networkConfig", Val: ns.NetworkConfig}})
}

// networkConfig is a host's network configuration as HostNetworkSystem.networkConfig reports it: "a strict
// subset of the information available in NetworkInfo" (API reference, HostNetworkConfig), its switches, port
// groups, physical NICs and VMkernel adapters. The simulator package left it unset until a client wrote one.
func networkConfig(info *types.HostNetworkInfo) *types.HostNetworkConfig {
	c := &types.HostNetworkConfig{}
	for i := range info.Vswitch {
		spec := info.Vswitch[i].Spec
		c.Vswitch = append(c.Vswitch, types.HostVirtualSwitchConfig{Name: info.Vswitch[i].Name, Spec: &spec})
	}
	for i := range info.Portgroup {
		spec := info.Portgroup[i].Spec
		c.Portgroup = append(c.Portgroup, types.HostPortGroupConfig{Spec: &spec})
	}
	for _, p := range info.Pnic {
		c.Pnic = append(c.Pnic, types.PhysicalNicConfig{Device: p.Device, Spec: p.Spec})
	}
	for i := range info.Vnic {
		spec := info.Vnic[i].Spec
		c.Vnic = append(c.Vnic, types.HostVirtualNicConfig{Device: info.Vnic[i].Device, Portgroup: info.Vnic[i].Portgroup,
			Spec: &spec})
	}
	return c
}

// UpdateVirtualSwitch changes a standard switch's MTU (the lab keeps the rest
// of its spec): NotFound for an unknown switch, InvalidArgument for an MTU
// outside 1280 to 9000.
func (r *netRouter) UpdateVirtualSwitch(ctx *simulator.Context, req *types.UpdateVirtualSwitch) soap.HasFault {
	body := &methods.UpdateVirtualSwitchBody{}
	ns, h := r.system()
	if ns == nil || h == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	i := -1
	for j := range ns.NetworkInfo.Vswitch {
		if ns.NetworkInfo.Vswitch[j].Name == req.VswitchName {
			i = j
		}
	}
	if i < 0 {
		body.Fault_ = simulator.Fault(fmt.Sprintf("There is no virtual switch %s on %s.", req.VswitchName, h.Name),
			&types.NotFound{})
		return body
	}
	if mtu := req.Spec.Mtu; mtu != 0 {
		if mtu < 1280 || mtu > 9000 {
			body.Fault_ = simulator.Fault(fmt.Sprintf("An MTU of %d is outside 1280 to 9000.", mtu),
				&types.InvalidArgument{InvalidProperty: "spec.mtu"})
			return body
		}
		ns.NetworkInfo.Vswitch[i].Mtu = mtu
		ns.NetworkInfo.Vswitch[i].Spec.Mtu = mtu
	}
	if req.Spec.NumPorts != 0 {
		ns.NetworkInfo.Vswitch[i].Spec.NumPorts = req.Spec.NumPorts
		ns.NetworkInfo.Vswitch[i].NumPorts = req.Spec.NumPorts
	}
	syncHostNetwork(h)
	body.Res = &types.UpdateVirtualSwitchResponse{}
	return body
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
