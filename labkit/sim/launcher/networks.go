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

func (r *netRouter) AddPortGroup(ctx *simulator.Context, req *types.AddPortGroup) soap.HasFault {
	body := &methods.AddPortGroupBody{}
	ns, h := r.system()
	spec := req.Portgrp
	switch {
	case ns == nil || h == nil:
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	case spec.Name == "":
		body.Fault_ = simulator.Fault("A port group needs a name.", &types.InvalidArgument{InvalidProperty: "portgrp.name"})
		return body
	case hasPortgroup(ns, spec.Name):
		body.Fault_ = simulator.Fault(fmt.Sprintf("The port group %s already exists on %s.", spec.Name, h.Name),
			&types.AlreadyExists{Name: spec.Name})
		return body
	}
	found := false
	for _, vs := range ns.NetworkInfo.Vswitch {
		found = found || vs.Name == spec.VswitchName
	}
	if !found {
		body.Fault_ = simulator.Fault(fmt.Sprintf("There is no virtual switch %s on %s.", spec.VswitchName, h.Name),
			&types.NotFound{})
		return body
	}
	net, exists := standardNetwork(h, spec.Name)
	if !exists { // the first port group of this name: the simulator creates the Network
		if res := ns.AddPortGroup(ctx, req); res.Fault() != nil {
			return res
		}
		if net, exists = standardNetwork(h, spec.Name); !exists {
			body.Fault_ = simulator.Fault("the network was not created", &types.HostConfigFault{})
			return body
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
	simulator.Map.Update(ns, []types.PropertyChange{{Name: "networkInfo", Val: ns.NetworkInfo}})
	linkNetwork(net, h, true)
	syncHostNetwork(h)
	body.Res = &types.AddPortGroupResponse{}
	return body
}

func (r *netRouter) RemovePortGroup(ctx *simulator.Context, req *types.RemovePortGroup) soap.HasFault {
	body := &methods.RemovePortGroupBody{}
	ns, h := r.system()
	if ns == nil || h == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if !hasPortgroup(ns, req.PgName) {
		body.Fault_ = simulator.Fault(fmt.Sprintf("There is no port group %s on %s.", req.PgName, h.Name), &types.NotFound{})
		return body
	}
	for _, nic := range ns.NetworkInfo.Vnic {
		if nic.Portgroup == req.PgName {
			body.Fault_ = simulator.Fault(fmt.Sprintf("The port group %s on %s is in use by VMkernel adapter %s.", req.PgName, h.Name, nic.Device),
				&types.ResourceInUse{Type: "Network", Name: req.PgName})
			return body
		}
	}
	net, exists := standardNetwork(h, req.PgName)
	if exists {
		for _, ref := range h.Vm {
			vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
			if ok && usesNetwork(vm, net) {
				body.Fault_ = simulator.Fault(fmt.Sprintf("The port group %s on %s is in use by %s.", req.PgName, h.Name, vm.Name),
					&types.ResourceInUse{Type: "Network", Name: req.PgName})
				return body
			}
		}
	}
	if exists {
		linkNetwork(net, h, false)
		if n, ok := simulator.Map.Get(net).(*mo.Network); ok && len(n.Host) == 0 && len(n.Vm) == 0 {
			// the last port group of this name: the simulator removes the Network too
			res := ns.RemovePortGroup(ctx, req)
			syncHostNetwork(h)
			return res
		}
	}
	var pgs []types.HostPortGroup
	for _, pg := range ns.NetworkInfo.Portgroup {
		if pg.Spec.Name != req.PgName {
			pgs = append(pgs, pg)
		}
	}
	ns.NetworkInfo.Portgroup = pgs
	for i := range ns.NetworkInfo.Vswitch {
		var names []string
		for _, n := range ns.NetworkInfo.Vswitch[i].Portgroup {
			if n != req.PgName {
				names = append(names, n)
			}
		}
		ns.NetworkInfo.Vswitch[i].Portgroup = names
	}
	syncHostNetwork(h)
	body.Res = &types.RemovePortGroupResponse{}
	return body
}

// linkNetwork adds (or drops) h in network.host and the network in h.network.
func linkNetwork(net types.ManagedObjectReference, h *simulator.HostSystem, add bool) {
	n, ok := simulator.Map.Get(net).(*mo.Network)
	if !ok {
		return
	}
	if add {
		addRef(n, "host", n.Host, h.Self)
		addRef(h, "network", h.Network, net)
	} else {
		dropRef(n, "host", n.Host, h.Self)
		dropRef(h, "network", h.Network, net)
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
