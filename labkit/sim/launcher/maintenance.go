package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// EnterMaintenanceMode_Task as vCenter runs it (vSphere API reference,
// HostSystem.EnterMaintenanceMode_Task; Resource Management, "Place a Host in
// Maintenance Mode"). A host enters maintenance mode once no powered-on VM
// runs on it; the task itself evacuates nothing. In a cluster with DRS on and
// fully automated, DRS migrates the running VMs to compatible hosts
// (DrsVmMigratedEvent); with DRS off, manual or partially automated, and for
// VMs no host can take, the administrator migrates or powers them off, and
// the task waits for that, until its timeout (Timedout) or a CancelTask
// (RequestCanceled). evacuatePoweredOffVms=true (EnterMaintenanceModeRequestType):
// with DRS on, vCenter moves the powered-off VMs too; with DRS off, the task
// does not succeed until the administrator has moved them.

const maintenancePoll = 100 * time.Millisecond

// entering lists the hosts whose EnterMaintenanceMode_Task is running: "The host is in a state of Entering
// Maintenance Mode until all running virtual machines are powered down or migrated" and "You cannot power on
// virtual machines or migrate virtual machines to a host entering maintenance mode" (vSphere Resource
// Management, "Place a Host in Maintenance Mode"). The migration checks read it (checkHostState).
var entering sync.Map // types.ManagedObjectReference -> bool

func enteringMaintenance(h *simulator.HostSystem) bool {
	_, ok := entering.Load(h.Self)
	return ok
}

func (r *hostRouter) EnterMaintenanceModeTask(ctx *simulator.Context, req *types.EnterMaintenanceMode_Task) soap.HasFault {
	body := &methods.EnterMaintenanceMode_TaskBody{}
	h, f := getHost(&types.ManagedObjectReference{Type: "HostSystem", Value: r.Self.Value})
	if f != nil {
		body.Fault_ = simulator.Fault(f.LocalizedMessage, f.Fault)
		return body
	}
	if h.Runtime.InMaintenanceMode {
		body.Fault_ = simulator.Fault("the host is already in maintenance mode", &types.InvalidState{})
		return body
	}
	t := newTask(h.Self, h.Name, "HostSystem.enterMaintenanceMode", true, userOf(ctx))
	evacuateOff := req.EvacuatePoweredOffVms != nil && *req.EvacuatePoweredOffVms
	go enterMaintenance(ctx, t, h, time.Duration(req.Timeout)*time.Second, evacuateOff)
	body.Res = &types.EnterMaintenanceMode_TaskResponse{Returnval: t.Self}
	return body
}

// drsOf reports whether DRS is on in h's cluster, and whether it is fully automated (ClusterDrsConfigInfo.enabled
// and defaultVmBehavior; a host outside a cluster has no DRS).
func drsOf(h *simulator.HostSystem) (on, fullyAutomated bool) {
	cl, ok := simulator.Map.Get(*h.Parent).(*simulator.ClusterComputeResource)
	if !ok || cl.ConfigurationEx == nil {
		return false, false
	}
	cfg, ok := cl.ConfigurationEx.(*types.ClusterConfigInfoEx)
	if !ok || cfg.DrsConfig.Enabled == nil || !*cfg.DrsConfig.Enabled {
		return false, false
	}
	return true, cfg.DrsConfig.DefaultVmBehavior == types.DrsBehaviorFullyAutomated
}

// allVMs lists every VM registered on h, whatever its power state.
func allVMs(h *simulator.HostSystem) []*simulator.VirtualMachine {
	var out []*simulator.VirtualMachine
	for _, ref := range append([]types.ManagedObjectReference(nil), h.Vm...) {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok {
			out = append(out, vm)
		}
	}
	return out
}

func poweredOnVMs(h *simulator.HostSystem) []*simulator.VirtualMachine {
	var out []*simulator.VirtualMachine
	for _, ref := range append([]types.ManagedObjectReference(nil), h.Vm...) {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			out = append(out, vm)
		}
	}
	return out
}

// bestHost is the compatible host with the most unreserved memory.
func bestHost(vm *simulator.VirtualMachine, src *simulator.HostSystem) *simulator.HostSystem {
	var best *simulator.HostSystem
	with(vm, func() { best = roomiest(vm, src, candidateHosts(src), nil) })
	return best
}

// roomiest is the host of hosts that the checks let vm move to from src with the most unreserved memory (the
// first of those with as much), or nil. The caller holds vm's lock.
func roomiest(vm *simulator.VirtualMachine, src *simulator.HostSystem, hosts []*simulator.HostSystem,
	pool *types.ManagedObjectReference) *simulator.HostSystem {
	var best *simulator.HostSystem
	for _, h := range hosts {
		if len(check(move{vm: vm, src: src, dest: h, pool: pool}, nil).errors) > 0 {
			continue
		}
		if best == nil || unreservedMB(h, vm.Self) > unreservedMB(best, vm.Self) {
			best = h
		}
	}
	return best
}

// evacuateAll migrates vms off h as DRS does for maintenance mode: each to the compatible host with the most
// unreserved memory, all requested at once (one batch for vCenter's limits, admission.go), and waits for them.
func evacuateAll(ctx *simulator.Context, t *labTask, h *simulator.HostSystem, vms []*simulator.VirtualMachine) {
	var moves []*migration
	var slots []*slotRequest
	for _, vm := range vms {
		dest := bestHost(vm, h)
		if dest == nil {
			continue
		}
		if m, err := prepare(ctx, nil, vm, dest, nil, nil, kindDRS); err == nil {
			moves = append(moves, m)
			if m.slot != nil {
				slots = append(slots, m.slot)
			}
		}
	}
	admit.request(slots...)
	var wg sync.WaitGroup
	var done int32
	for _, m := range moves {
		wg.Add(1)
		go func(m *migration) {
			defer wg.Done()
			_ = m.run(ctx, nil)
			t.progress(int32(10 + 80*int(atomic.AddInt32(&done, 1))/len(vms)))
		}(m)
	}
	wg.Wait()
}

func enterMaintenance(ctx *simulator.Context, t *labTask, h *simulator.HostSystem, timeout time.Duration, evacuateOff bool) {
	t.start()
	entering.Store(h.Self, true)
	defer entering.Delete(h.Self)
	postEvents(ctx, &types.EnteringMaintenanceModeEvent{HostEvent: types.HostEvent{Event: hostEventBase(h)}})
	// DRS evacuates when it is on and fully automated; it is looked at again while the task waits, so turning
	// DRS on (or to fully automated) during the wait evacuates the host then, as DRS's next run would.
	var was struct{ drs, auto, started bool }
	evacuate := func() {
		drs, auto := drsOf(h)
		if was.started && drs == was.drs && auto == was.auto {
			return
		}
		was.drs, was.auto, was.started = drs, auto, true
		var vms []*simulator.VirtualMachine
		for _, vm := range allVMs(h) {
			on := vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff
			if (on && auto) || (!on && drs && evacuateOff) {
				vms = append(vms, vm)
			}
		}
		evacuateAll(ctx, t, h, vms)
	}
	// what must leave before the host is in maintenance mode
	staying := func() int {
		if evacuateOff && !was.drs {
			return len(allVMs(h))
		}
		return len(poweredOnVMs(h))
	}
	deadline := time.Now().Add(timeout)
	for evacuate(); staying() > 0; evacuate() {
		if t.cancelled() {
			t.failWith(types.LocalizedMethodFault{Fault: &types.RequestCanceled{}, LocalizedMessage: "The task was canceled by a user."})
			return
		}
		if timeout > 0 && time.Now().After(deadline) {
			t.failWith(types.LocalizedMethodFault{Fault: &types.Timedout{},
				LocalizedMessage: fmt.Sprintf("%s did not enter maintenance mode within %s: %d virtual machines that must leave are still on it.", h.Name, timeout, staying())})
			return
		}
		time.Sleep(maintenancePoll)
	}
	simulator.Map.WithLock(h, func() {
		simulator.Map.Update(h, []types.PropertyChange{{Name: "runtime.inMaintenanceMode", Val: true}})
	})
	postEvents(ctx, &types.EnteredMaintenanceModeEvent{HostEvent: types.HostEvent{Event: hostEventBase(h)}})
	t.succeed(nil)
}

// hostStateTask runs a host state change as a task: refused with InvalidState
// when why() says the host is not in the state the call changes.
func (r *hostRouter) hostStateTask(ctx *simulator.Context, id string, why func(*simulator.HostSystem) string,
	changes []types.PropertyChange, event func(types.HostEvent) types.BaseEvent) (types.ManagedObjectReference, *soap.Fault) {
	h, f := getHost(&types.ManagedObjectReference{Type: "HostSystem", Value: r.Self.Value})
	if f != nil {
		return types.ManagedObjectReference{}, simulator.Fault(f.LocalizedMessage, f.Fault)
	}
	if reason := why(h); reason != "" {
		return types.ManagedObjectReference{}, simulator.Fault(reason, &types.InvalidState{})
	}
	t := newTask(h.Self, h.Name, id, false, userOf(ctx))
	go func() {
		t.start()
		simulator.Map.WithLock(h, func() { simulator.Map.Update(h, changes) })
		postEvents(ctx, event(types.HostEvent{Event: hostEventBase(h)}))
		t.succeed(nil)
	}()
	return t.Self, nil
}

// ExitMaintenanceModeTask takes the host out of maintenance mode, as vCenter
// does: InvalidState when it is not in maintenance mode (API reference,
// HostSystem.ExitMaintenanceMode_Task).
func (r *hostRouter) ExitMaintenanceModeTask(ctx *simulator.Context, req *types.ExitMaintenanceMode_Task) soap.HasFault {
	ref, fault := r.hostStateTask(ctx, "HostSystem.exitMaintenanceMode",
		func(h *simulator.HostSystem) string {
			if !h.Runtime.InMaintenanceMode {
				return h.Name + " is not in maintenance mode."
			}
			return ""
		},
		[]types.PropertyChange{{Name: "runtime.inMaintenanceMode", Val: false}},
		func(e types.HostEvent) types.BaseEvent { return &types.ExitMaintenanceModeEvent{HostEvent: e} })
	if fault != nil {
		return &methods.ExitMaintenanceMode_TaskBody{Fault_: fault}
	}
	return &methods.ExitMaintenanceMode_TaskBody{Res: &types.ExitMaintenanceMode_TaskResponse{Returnval: ref}}
}

// ReconnectHostTask reconnects a disconnected or not-responding host:
// InvalidState when it is connected already (API reference,
// HostSystem.ReconnectHost_Task). The lab's hosts always answer.
func (r *hostRouter) ReconnectHostTask(ctx *simulator.Context, req *types.ReconnectHost_Task) soap.HasFault {
	ref, fault := r.hostStateTask(ctx, "HostSystem.reconnect",
		func(h *simulator.HostSystem) string {
			if h.Runtime.ConnectionState == types.HostSystemConnectionStateConnected {
				return h.Name + " is connected already."
			}
			return ""
		},
		[]types.PropertyChange{{Name: "runtime.connectionState", Val: types.HostSystemConnectionStateConnected},
			{Name: "runtime.powerState", Val: types.HostSystemPowerStatePoweredOn}},
		func(e types.HostEvent) types.BaseEvent { return &types.HostConnectedEvent{HostEvent: e} })
	if fault != nil {
		return &methods.ReconnectHost_TaskBody{Fault_: fault}
	}
	return &methods.ReconnectHost_TaskBody{Res: &types.ReconnectHost_TaskResponse{Returnval: ref}}
}

// DisconnectHostTask disconnects a host from vCenter (API reference,
// HostSystem.DisconnectHost_Task, which names no fault for a host that is
// disconnected already). Its connection state becomes disconnected and its
// power state unknown, as for the scenarios' disconnected hosts, and a
// HostDisconnectedEvent with reason userRequest ("User requested disconnect",
// HostDisconnectedEvent.ReasonCode) is logged. ReconnectHost_Task connects it
// again.
func (r *hostRouter) DisconnectHostTask(ctx *simulator.Context, req *types.DisconnectHost_Task) soap.HasFault {
	ref, fault := r.hostStateTask(ctx, "HostSystem.disconnect",
		func(*simulator.HostSystem) string { return "" },
		[]types.PropertyChange{{Name: "runtime.connectionState", Val: types.HostSystemConnectionStateDisconnected},
			{Name: "runtime.powerState", Val: types.HostSystemPowerStateUnknown}},
		func(e types.HostEvent) types.BaseEvent {
			return &types.HostDisconnectedEvent{HostEvent: e, Reason: string(types.HostDisconnectedEventReasonCodeUserRequest)}
		})
	if fault != nil {
		return &methods.DisconnectHost_TaskBody{Fault_: fault}
	}
	return &methods.DisconnectHost_TaskBody{Res: &types.DisconnectHost_TaskResponse{Returnval: ref}}
}
