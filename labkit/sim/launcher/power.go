package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A device's connected flag follows the power state. "connected: Indicates whether the device is currently
// connected. Valid only while the virtual machine is running"; "startConnected: Specifies whether or not to
// connect the device when the virtual machine starts" (API reference, VirtualDeviceConnectInfo). The
// simulator package leaves connected as it was, so a powered-off VM kept reporting its NICs connected. The lab
// clears connected when a VM powers off or suspends ("if you suspend or power off the virtual machine, the USB
// devices are disconnected", VM Administration, "Configuring USB Devices for vMotion") and sets it from
// startConnected when it powers on.

// setConnected sets every connectable device's connected flag: from startConnected when on, else false.
func setConnected(vm *simulator.VirtualMachine, on bool) {
	changed := false
	for _, d := range vm.Config.Hardware.Device {
		dev := d.GetVirtualDevice()
		if dev.Connectable == nil {
			continue
		}
		want := on && dev.Connectable.StartConnected
		if dev.Connectable.Connected == want {
			continue
		}
		c := *dev.Connectable
		c.Connected = want
		if on && want {
			c.Status = string(types.VirtualDeviceConnectInfoStatusOk)
		}
		dev.Connectable = &c
		if usb, ok := d.(*types.VirtualUSB); ok {
			usb.Connected = want
		}
		changed = true
	}
	if changed {
		simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.hardware.device", Val: vm.Config.Hardware.Device}})
	}
}

// powerChange runs a power operation and, if the VM was not already in that state, sets its devices first.
func (r *vmRouter) powerChange(to types.VirtualMachinePowerState, run func(*simulator.VirtualMachine) soap.HasFault) soap.HasFault {
	vm, ok := simulator.Map.Get(r.target()).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	if vm.Runtime.PowerState != to {
		simulator.Map.WithLock(vm, func() { setConnected(vm, to == types.VirtualMachinePowerStatePoweredOn) })
	}
	return run(vm)
}

func (r *vmRouter) PowerOffVMTask(ctx *simulator.Context, req *types.PowerOffVM_Task) soap.HasFault {
	if vm, ok := simulator.Map.Get(r.target()).(*simulator.VirtualMachine); ok {
		if f := busy(vm); f != nil {
			return &methods.PowerOffVM_TaskBody{Res: &types.PowerOffVM_TaskResponse{Returnval: refusedTask(ctx, vm, "VirtualMachine.powerOff", *f)}}
		}
	}
	res := r.powerChange(types.VirtualMachinePowerStatePoweredOff, func(vm *simulator.VirtualMachine) soap.HasFault {
		return vm.PowerOffVMTask(ctx, req)
	})
	if res == nil {
		return &methods.PowerOffVM_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: r.target()})}
	}
	return res
}

// refusedTask answers a call with a task that fails with f, as vCenter fails a power task.
func refusedTask(ctx *simulator.Context, vm *simulator.VirtualMachine, id string, f types.LocalizedMethodFault) types.ManagedObjectReference {
	t := newTask(vm.Self, vm.Name, id, false, userOf(ctx))
	go func() {
		t.start()
		t.failWith(f)
	}()
	return t.Self
}

// SuspendVMTask: InvalidPowerState "if the power state is not poweredOn" (API reference, VirtualMachine.SuspendVM_Task);
// the engine suspended a powered-off VM.
func (r *vmRouter) SuspendVMTask(ctx *simulator.Context, req *types.SuspendVM_Task) soap.HasFault {
	if vm, ok := simulator.Map.Get(r.target()).(*simulator.VirtualMachine); ok {
		if f := busy(vm); f != nil {
			return &methods.SuspendVM_TaskBody{Res: &types.SuspendVM_TaskResponse{Returnval: refusedTask(ctx, vm, "VirtualMachine.suspend", *f)}}
		}
	}
	if vm, ok := simulator.Map.Get(r.target()).(*simulator.VirtualMachine); ok && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		f := types.LocalizedMethodFault{Fault: &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: vm.Runtime.PowerState},
			LocalizedMessage: fmt.Sprintf("The attempted operation cannot be performed in the current state (%s).", vm.Runtime.PowerState)}
		return &methods.SuspendVM_TaskBody{Res: &types.SuspendVM_TaskResponse{Returnval: refusedTask(ctx, vm, "VirtualMachine.suspend", f)}}
	}
	res := r.powerChange(types.VirtualMachinePowerStateSuspended, func(vm *simulator.VirtualMachine) soap.HasFault {
		return vm.SuspendVMTask(ctx, req)
	})
	if res == nil {
		return &methods.SuspendVM_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: r.target()})}
	}
	return res
}

// powerOnRefusal is why a VM may not power on (or resume) on h, or nil: InvalidState "if the host is in
// maintenance mode" (API reference, VirtualMachine.PowerOnVM_Task), also while it is entering maintenance mode
// ("You cannot power on virtual machines ... to a host entering maintenance mode", vSphere Resource Management,
// "Place a Host in Maintenance Mode"); and admission control, which checks at power-on that the host's
// unreserved memory covers the VM's reservation plus overhead (Resource Management, "Admission Control"), with
// InsufficientResourcesFault's memory subtype.
func powerOnRefusal(vm *simulator.VirtualMachine, h *simulator.HostSystem) *types.LocalizedMethodFault {
	if lab.building {
		return nil
	}
	switch {
	case h.Runtime.InMaintenanceMode:
		return &types.LocalizedMethodFault{Fault: &types.InvalidState{},
			LocalizedMessage: fmt.Sprintf("The host %s is in maintenance mode: it powers on no virtual machine.", h.Name)}
	case enteringMaintenance(h):
		return &types.LocalizedMethodFault{Fault: &types.InvalidState{},
			LocalizedMessage: fmt.Sprintf("The host %s is entering maintenance mode: it powers on no virtual machine.", h.Name)}
	}
	free, need := unreservedMB(h, vm.Self), admissionMB(vm)
	if need > free {
		return &types.LocalizedMethodFault{Fault: &types.InsufficientMemoryResourcesFault{Unreserved: free << 20, Requested: need << 20},
			LocalizedMessage: fmt.Sprintf("The available memory resources on the host %s are insufficient for the operation: %d MB unreserved, %d MB requested.", h.Name, free, need)}
	}
	return nil
}
