package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Guest operations through VMware Tools. VirtualMachine.ShutdownGuest,
// RebootGuest and StandbyGuest ask the guest's VMware Tools to shut the guest
// down, restart it or put it on standby, so all three need Tools running: the
// API reference lists ToolsUnavailable ("thrown if VMware Tools is not
// running") and InvalidState when the VM is not powered on. The simulator
// package shut every VM down, Tools or not, and served neither RebootGuest nor
// StandbyGuest. The lab's VMs run no Tools (guest.toolsRunningStatus
// guestToolsNotRunning), so all three are refused there.

// toolsFault is the fault a Tools operation gets on vm, or nil when it may run.
func toolsFault(vm *simulator.VirtualMachine) *soap.Fault {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return simulator.Fault(fmt.Sprintf("%s is not powered on.", vm.Name), &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: vm.Runtime.PowerState})
	}
	if vm.Guest == nil || vm.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		return simulator.Fault(fmt.Sprintf("VMware Tools is not running in %s.", vm.Name), &types.ToolsUnavailable{})
	}
	return nil
}

// toolsVM is the routed VM when a Tools operation may run on it, or the fault
// it gets (ManagedObjectNotFound, InvalidPowerState, ToolsUnavailable).
func (r *vmRouter) toolsVM() (*simulator.VirtualMachine, *soap.Fault) {
	vm, ok := simulator.Map.Get(r.target()).(*simulator.VirtualMachine)
	if !ok {
		return nil, simulator.Fault("", &types.ManagedObjectNotFound{Obj: r.target()})
	}
	return vm, toolsFault(vm)
}

// ShutdownGuest: refused without Tools; with Tools, the simulator package's own.
func (r *vmRouter) ShutdownGuest(ctx *simulator.Context, req *types.ShutdownGuest) soap.HasFault {
	vm, f := r.toolsVM()
	if f != nil {
		return &methods.ShutdownGuestBody{Fault_: f}
	}
	req.This = vm.Self
	return vm.ShutdownGuest(ctx, req)
}

// RebootGuest: refused without Tools; with Tools, the guest restarts (the VM
// stays powered on) and a VmGuestRebootEvent is logged.
func (r *vmRouter) RebootGuest(ctx *simulator.Context, req *types.RebootGuest) soap.HasFault {
	vm, f := r.toolsVM()
	if f != nil {
		return &methods.RebootGuestBody{Fault_: f}
	}
	if h, ok := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem); ok {
		postEvents(ctx, &types.VmGuestRebootEvent{VmEvent: vmEvent(vm, h)})
	}
	return &methods.RebootGuestBody{Res: &types.RebootGuestResponse{}}
}

// StandbyGuest: refused without Tools. A guest on standby with Tools running is
// not modelled (no lab VM runs Tools): NotSupported says so.
func (r *vmRouter) StandbyGuest(ctx *simulator.Context, req *types.StandbyGuest) soap.HasFault {
	_, f := r.toolsVM()
	if f == nil {
		f = simulator.Fault("Guest standby is not modelled by the lab.", &types.NotSupported{})
	}
	return &methods.StandbyGuestBody{Fault_: f}
}
