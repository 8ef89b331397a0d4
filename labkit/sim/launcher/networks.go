package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Standard port groups at run time, as vCenter keeps them. A port group is a
// per-host object; vCenter shows every standard port group of one name as a
// single Network, whose `host` lists the hosts that have it (and each host's
// `network` lists it back). That is why a VM on "Prod" can move to any host
// that has a port group named "Prod". The simulator package instead treats a
// second port group of the same name as a DuplicateName and never links the
// Network to its hosts, so the lab answers AddPortGroup and RemovePortGroup
// itself.

type netRouter struct {
	labObject
}

func (r *netRouter) Reference() types.ManagedObjectReference { return r.Self }

func (r *netRouter) system() (*simulator.HostNetworkSystem, *simulator.HostSystem) {
	ref := types.ManagedObjectReference{Type: "HostNetworkSystem", Value: r.Self.Value}
	ns, ok := simulator.Map.Get(ref).(*simulator.HostNetworkSystem)
	if !ok || ns.Host == nil {
		return nil, nil
	}
	h, _ := simulator.Map.Get(ns.Host.Self).(*simulator.HostSystem)
	return ns, h
}

func hasPortgroup(ns *simulator.HostNetworkSystem, name string) bool {
	for _, pg := range ns.NetworkInfo.Portgroup {
		if pg.Spec.Name == name {
			return true
		}
	}
	return false
}

// standardNetwork finds the datacenter's Network (not a distributed port
// group) of this name.
func standardNetwork(h *simulator.HostSystem, name string) (types.ManagedObjectReference, bool) {
	for ref := h.Parent; ref != nil; {
		obj := simulator.Map.Get(*ref)
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return existingNetwork(dc.Self, name)
		}
		ent, ok := obj.(mo.Entity)
		if !ok {
			break
		}
		ref = ent.Entity().Parent
	}
	return types.ManagedObjectReference{}, false
}

// checkAddPortgroup: InvalidArgument (no name; "the PortGroup vlanId is invalid. Valid vlanIds range from
// [0,4095]"; an invalid policy), AlreadyExists, NotFound for an unknown switch (API reference, AddPortGroup).
func (m *netModel) checkAddPortgroup(spec *types.HostPortGroupSpec) *soap.Fault {
	if spec == nil {
		return simulator.Fault("A port group needs a spec.", &types.InvalidArgument{InvalidProperty: "portgrp"})
	}
	switch {
	case spec.Name == "":
		return simulator.Fault("A port group needs a name.", &types.InvalidArgument{InvalidProperty: "portgrp.name"})
	case spec.VlanId < 0 || spec.VlanId > 4095:
		return simulator.Fault(fmt.Sprintf("VLAN ID %d is outside 0 to 4095.", spec.VlanId),
			&types.InvalidArgument{InvalidProperty: "portgrp.vlanId"})
	case m.pgs[spec.Name] != "":
		return simulator.Fault(fmt.Sprintf("The port group %s already exists on %s.", spec.Name, m.host.Name),
			&types.AlreadyExists{Name: spec.Name})
	case !m.hasSwitch(spec.VswitchName):
		return simulator.Fault(fmt.Sprintf("There is no virtual switch %s on %s.", spec.VswitchName, m.host.Name),
			&types.NotFound{})
	}
	if f := checkPolicy(&spec.Policy, "portgrp.policy"); f != nil {
		return f
	}
	m.pgs[spec.Name] = spec.VswitchName
	return nil
}

// addPortgroup adds a checked port group and links the host to the Network of its name.
func addPortgroup(ctx *simulator.Context, ns *simulator.HostNetworkSystem, h *simulator.HostSystem, spec types.HostPortGroupSpec) *soap.Fault {
	spec.Policy = portgroupPolicy(spec.Policy)
	net, exists := standardNetwork(h, spec.Name)
	if !exists { // the first port group of this name: the simulator creates the Network
		if res := ns.AddPortGroup(ctx, &types.AddPortGroup{This: ns.Self, Portgrp: spec}); res.Fault() != nil {
			return res.Fault()
		}
		if net, exists = standardNetwork(h, spec.Name); !exists {
			return simulator.Fault("the network was not created", &types.HostConfigFault{})
		}
	} else {
		ns.NetworkInfo.Portgroup = append(ns.NetworkInfo.Portgroup, types.HostPortGroup{
			Key: "key-vim.host.PortGroup-" + spec.Name, Spec: spec})
		for i := range ns.NetworkInfo.Vswitch {
			if ns.NetworkInfo.Vswitch[i].Name == spec.VswitchName {
				ns.NetworkInfo.Vswitch[i].Portgroup = append(ns.NetworkInfo.Vswitch[i].Portgroup, spec.Name)
			}
		}
	}
	linkNetwork(net, h, true)
	return nil
}

// checkUpdatePortgroup: NotFound "if the port group or virtual switch does not exist", AlreadyExists "if the
// update causes the port group to conflict with an existing port group", InvalidArgument for the VLAN ID or
// policy (API reference, UpdatePortGroup). Renaming a port group that a VM or a VMkernel adapter uses would move
// them to another network; the lab does not model that and says so (NotSupported).
func (m *netModel) checkUpdatePortgroup(name string, spec *types.HostPortGroupSpec) *soap.Fault {
	if m.pgs[name] == "" {
		return simulator.Fault(fmt.Sprintf("There is no port group %s on %s.", name, m.host.Name), &types.NotFound{})
	}
	if spec == nil {
		return simulator.Fault("UpdatePortGroup needs a spec.", &types.InvalidArgument{InvalidProperty: "portgrp"})
	}
	newName := spec.Name
	if newName == "" {
		newName = name
	}
	switch {
	case !m.hasSwitch(spec.VswitchName):
		return simulator.Fault(fmt.Sprintf("There is no virtual switch %s on %s.", spec.VswitchName, m.host.Name),
			&types.NotFound{})
	case spec.VlanId < 0 || spec.VlanId > 4095:
		return simulator.Fault(fmt.Sprintf("VLAN ID %d is outside 0 to 4095.", spec.VlanId),
			&types.InvalidArgument{InvalidProperty: "portgrp.vlanId"})
	case newName != name && m.pgs[newName] != "":
		return simulator.Fault(fmt.Sprintf("The port group %s already exists on %s.", newName, m.host.Name),
			&types.AlreadyExists{Name: newName})
	}
	if newName != name {
		if user := m.portgroupUser(name); user != "" {
			return simulator.Fault(fmt.Sprintf("Renaming the port group %s on %s while %s uses it is not modelled by the lab.", name, m.host.Name, user),
				&types.NotSupported{})
		}
	}
	if f := checkPolicy(&spec.Policy, "portgrp.policy"); f != nil {
		return f
	}
	delete(m.pgs, name)
	m.pgs[newName] = spec.VswitchName
	return nil
}

// updatePortgroup reconfigures a checked port group: its VLAN ID, switch and policy become the spec's (a policy
// setting the spec leaves unset is inherited from the switch). A renamed port group leaves the Network of its old
// name and joins the one of its new name.
func updatePortgroup(ctx *simulator.Context, ns *simulator.HostNetworkSystem, h *simulator.HostSystem, name string, spec types.HostPortGroupSpec) *soap.Fault {
	if spec.Name == "" {
		spec.Name = name
	}
	if spec.Name != name {
		removePortgroup(ctx, ns, h, name)
		return addPortgroup(ctx, ns, h, spec)
	}
	for i := range ns.NetworkInfo.Portgroup {
		pg := &ns.NetworkInfo.Portgroup[i]
		if pg.Spec.Name != name {
			continue
		}
		if pg.Spec.VswitchName != spec.VswitchName {
			for j := range ns.NetworkInfo.Vswitch {
				vs := &ns.NetworkInfo.Vswitch[j]
				switch vs.Name {
				case pg.Spec.VswitchName:
					var keep []string
					for _, n := range vs.Portgroup {
						if n != name {
							keep = append(keep, n)
						}
					}
					vs.Portgroup = keep
				case spec.VswitchName:
					vs.Portgroup = append(vs.Portgroup, name)
				}
			}
		}
		spec.Policy = portgroupPolicy(spec.Policy)
		pg.Spec = spec
	}
	return nil
}

// checkRemovePortgroup: NotFound, or ResourceInUse "if the port group can not be removed because there are
// virtual network adapters associated with it" (API reference, RemovePortGroup): a VMkernel adapter or a NIC of
// a VM on the host.
func (m *netModel) checkRemovePortgroup(name string) *soap.Fault {
	if m.pgs[name] == "" {
		return simulator.Fault(fmt.Sprintf("There is no port group %s on %s.", name, m.host.Name), &types.NotFound{})
	}
	if user := m.portgroupUser(name); user != "" {
		return simulator.Fault(fmt.Sprintf("The port group %s on %s is in use by %s.", name, m.host.Name, user),
			&types.ResourceInUse{Type: "Network", Name: name})
	}
	delete(m.pgs, name)
	return nil
}

// removePortgroup removes a checked port group; the Network of its name leaves the host, and goes with the
// last port group of that name.
func removePortgroup(ctx *simulator.Context, ns *simulator.HostNetworkSystem, h *simulator.HostSystem, name string) {
	if net, exists := standardNetwork(h, name); exists {
		linkNetwork(net, h, false)
		if n, ok := simulator.Map.Get(net).(*mo.Network); ok && len(n.Host) == 0 && len(n.Vm) == 0 {
			// the last port group of this name: the simulator removes the Network too
			ns.RemovePortGroup(ctx, &types.RemovePortGroup{This: ns.Self, PgName: name})
		}
	}
	var pgs []types.HostPortGroup
	for _, pg := range ns.NetworkInfo.Portgroup {
		if pg.Spec.Name != name {
			pgs = append(pgs, pg)
		}
	}
	ns.NetworkInfo.Portgroup = pgs
	for i := range ns.NetworkInfo.Vswitch {
		var names []string
		for _, n := range ns.NetworkInfo.Vswitch[i].Portgroup {
			if n != name {
				names = append(names, n)
			}
		}
		ns.NetworkInfo.Vswitch[i].Portgroup = names
	}
}

func (r *netRouter) AddPortGroup(ctx *simulator.Context, req *types.AddPortGroup) soap.HasFault {
	body := &methods.AddPortGroupBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkAddPortgroup(&req.Portgrp); f != nil {
		body.Fault_ = f
		return body
	}
	if f := addPortgroup(ctx, ns, h, req.Portgrp); f != nil {
		body.Fault_ = f
		return body
	}
	syncHostNetwork(h)
	body.Res = &types.AddPortGroupResponse{}
	return body
}

func (r *netRouter) RemovePortGroup(ctx *simulator.Context, req *types.RemovePortGroup) soap.HasFault {
	body := &methods.RemovePortGroupBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkRemovePortgroup(req.PgName); f != nil {
		body.Fault_ = f
		return body
	}
	removePortgroup(ctx, ns, h, req.PgName)
	syncHostNetwork(h)
	body.Res = &types.RemovePortGroupResponse{}
	return body
}

// UpdatePortGroup reconfigures a standard port group (API reference, HostNetworkSystem.UpdatePortGroup): its VLAN
// ID, switch, policy or name. The port group's computedPolicy is its switch's policy with the port group's own
// settings over it.
func (r *netRouter) UpdatePortGroup(ctx *simulator.Context, req *types.UpdatePortGroup) soap.HasFault {
	body := &methods.UpdatePortGroupBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkUpdatePortgroup(req.PgName, &req.Portgrp); f != nil {
		body.Fault_ = f
		return body
	}
	if f := updatePortgroup(ctx, ns, h, req.PgName, req.Portgrp); f != nil {
		body.Fault_ = f
		return body
	}
	syncHostNetwork(h)
	body.Res = &types.UpdatePortGroupResponse{}
	return body
}

// linkNetwork adds (or drops) h in network.host and the network in h.network.
func linkNetwork(net types.ManagedObjectReference, h *simulator.HostSystem, add bool) {
	n, ok := simulator.Map.Get(net).(*mo.Network)
	if !ok {
		return
	}
	if add {
		addRef(n, "host", &n.Host, h.Self)
		addRef(h, "network", &h.Network, net)
	} else {
		dropRef(n, "host", &n.Host, h.Self)
		dropRef(h, "network", &h.Network, net)
	}
}

func usesNetwork(vm *simulator.VirtualMachine, net types.ManagedObjectReference) bool {
	for _, d := range vm.Config.Hardware.Device {
		if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
			if b, ok := nic.GetVirtualEthernetCard().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok &&
				b.Network != nil && *b.Network == net {
				return true
			}
		}
	}
	return false
}
