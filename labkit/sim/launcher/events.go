package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Events, as vCenter posts them around a migration: a "being migrated" event
// when it starts and a "migrated" event with the same chainId when it ends.
// A powered-on VM is hot-migrated (VmBeingHotMigratedEvent); a powered-off
// one is migrated cold (VmBeingMigratedEvent) or, through RelocateVM_Task,
// relocated (VmBeingRelocatedEvent / VmRelocatedEvent). An evacuation for
// maintenance mode ends with DrsVmMigratedEvent.

// The texts of the events the lab posts. The simulator package's own texts
// for some of them are malformed templates; these replace them.
var eventTexts = map[string]string{
	"VmBeingHotMigratedEvent":      "Migrating {{.Vm.Name}} from {{.Host.Name}} to {{.DestHost.Name}}{{if .DestDatastore}}, {{.DestDatastore.Name}}{{end}} in {{.Datacenter.Name}}",
	"VmBeingMigratedEvent":         "Migrating {{.Vm.Name}} (powered off) from {{.Host.Name}} to {{.DestHost.Name}}{{if .DestDatastore}}, {{.DestDatastore.Name}}{{end}} in {{.Datacenter.Name}}",
	"VmBeingRelocatedEvent":        "Relocating {{.Vm.Name}} from {{.Host.Name}} to {{.DestHost.Name}}{{if .DestDatastore}}, {{.DestDatastore.Name}}{{end}} in {{.Datacenter.Name}}",
	"VmMigratedEvent":              "Migration of virtual machine {{.Vm.Name}} from {{.SourceHost.Name}}{{if .SourceDatastore}}, {{.SourceDatastore.Name}}{{end}} to {{.Host.Name}} completed",
	"VmRelocatedEvent":             "Completed the relocation of {{.Vm.Name}} from {{.SourceHost.Name}}{{if .SourceDatastore}}, {{.SourceDatastore.Name}}{{end}} to {{.Host.Name}}",
	"DrsVmMigratedEvent":           "DRS migrated {{.Vm.Name}} from {{.SourceHost.Name}} to {{.Host.Name}} in cluster {{.ComputeResource.Name}} in {{.Datacenter.Name}}",
	"VmFailedMigrateEvent":         "Cannot migrate {{.Vm.Name}} from {{.Host.Name}} to {{.DestHost.Name}} in {{.Datacenter.Name}}: {{.Reason.LocalizedMessage}}",
	"EnteringMaintenanceModeEvent": "Host {{.Host.Name}} in {{.Datacenter.Name}} has started to enter maintenance mode",
	"EnteredMaintenanceModeEvent":  "Host {{.Host.Name}} in {{.Datacenter.Name}} has entered maintenance mode",
}

func installEventTexts() {
	m := simulator.Map.EventManager()
	seen := map[string]bool{}
	for i := range m.Description.EventInfo {
		info := &m.Description.EventInfo[i]
		if text, ok := eventTexts[info.Key]; ok {
			info.FullFormat = text
			seen[info.Key] = true
		}
	}
	for _, key := range sortedKeys(eventTexts) {
		if !seen[key] {
			m.Description.EventInfo = append(m.Description.EventInfo, types.EventDescriptionEventDetail{
				Key: key, Category: "info", FullFormat: eventTexts[key]})
		}
	}
}

func hostArg(h *simulator.HostSystem) types.HostEventArgument {
	return types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: h.Name}, Host: h.Self}
}

func dsArg(ref *types.ManagedObjectReference) *types.DatastoreEventArgument {
	if ref == nil {
		return nil
	}
	return &types.DatastoreEventArgument{EntityEventArgument: types.EntityEventArgument{Name: entityName(*ref)}, Datastore: *ref}
}

// vmEvent is the base of an event about vm on host h: its host, compute
// resource, datacenter, the VM, and the VM's datastore in Event.ds (vSphere
// API reference, Event: "ds, the Datastore object").
func vmEvent(vm *simulator.VirtualMachine, h *simulator.HostSystem) types.VmEvent {
	e := hostEventBase(h)
	e.Vm = &types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: vm.Name}, Vm: vm.Self}
	e.Ds = dsArg(firstDatastore(vm.Datastore))
	return types.VmEvent{Event: e}
}

// hostEventBase fills the host, its compute resource and its datacenter.
func hostEventBase(h *simulator.HostSystem) types.Event {
	host := hostArg(h)
	e := types.Event{Host: &host}
	if h.Parent != nil {
		cr := *h.Parent
		e.ComputeResource = &types.ComputeResourceEventArgument{EntityEventArgument: types.EntityEventArgument{Name: entityName(cr)}, ComputeResource: cr}
	}
	for ref := h.Parent; ref != nil; {
		obj := simulator.Map.Get(*ref)
		if dc, ok := obj.(*simulator.Datacenter); ok {
			e.Datacenter = &types.DatacenterEventArgument{EntityEventArgument: types.EntityEventArgument{Name: dc.Name}, Datacenter: dc.Self}
			break
		}
		ent, ok := obj.(mo.Entity)
		if !ok {
			break
		}
		ref = ent.Entity().Parent
	}
	return e
}

func firstDatastore(refs []types.ManagedObjectReference) *types.ManagedObjectReference {
	if len(refs) == 0 {
		return nil
	}
	r := refs[0]
	return &r
}

func beingMigrated(vm *simulator.VirtualMachine, src, dest *simulator.HostSystem, ds *types.ManagedObjectReference,
	kind migrationKind, hot bool) types.BaseEvent {
	e := vmEvent(vm, src)
	target := ds
	if target == nil {
		target = firstDatastore(vm.Datastore)
	}
	dc := hostEventBase(dest).Datacenter // destDatacenter (API reference, VmBeingMigratedEvent and kin)
	switch {
	case hot:
		return &types.VmBeingHotMigratedEvent{VmEvent: e, DestHost: hostArg(dest), DestDatacenter: dc, DestDatastore: dsArg(target)}
	case kind == kindRelocate:
		return &types.VmBeingRelocatedEvent{VmRelocateSpecEvent: types.VmRelocateSpecEvent{VmEvent: e}, DestHost: hostArg(dest), DestDatacenter: dc, DestDatastore: dsArg(target)}
	default:
		return &types.VmBeingMigratedEvent{VmEvent: e, DestHost: hostArg(dest), DestDatacenter: dc, DestDatastore: dsArg(target)}
	}
}

func migrated(vm *simulator.VirtualMachine, src *simulator.HostSystem, srcDatastores []types.ManagedObjectReference,
	kind migrationKind, hot bool) types.BaseEvent {
	e := vmEvent(vm, hostOf(vm)) // the event's host is the destination
	from := dsArg(firstDatastore(srcDatastores))
	dc := hostEventBase(src).Datacenter // sourceDatacenter (API reference, VmMigratedEvent, VmRelocatedEvent)
	switch {
	case kind == kindDRS:
		return &types.DrsVmMigratedEvent{VmMigratedEvent: types.VmMigratedEvent{VmEvent: e, SourceHost: hostArg(src), SourceDatacenter: dc, SourceDatastore: from}}
	case kind == kindRelocate && !hot:
		return &types.VmRelocatedEvent{VmRelocateSpecEvent: types.VmRelocateSpecEvent{VmEvent: e}, SourceHost: hostArg(src), SourceDatacenter: dc, SourceDatastore: from}
	default:
		return &types.VmMigratedEvent{VmEvent: e, SourceHost: hostArg(src), SourceDatacenter: dc, SourceDatastore: from}
	}
}

// postEvents posts through the EventManager and returns the first event's key.
func postEvents(ctx *simulator.Context, events ...types.BaseEvent) int32 {
	m := simulator.Map.EventManager()
	var first int32
	simulator.Map.WithLock(m, func() {
		for i, e := range events {
			m.PostEvent(ctx, &types.PostEvent{EventToPost: e})
			if i == 0 {
				first = e.GetEvent().Key
			}
		}
	})
	return first
}
