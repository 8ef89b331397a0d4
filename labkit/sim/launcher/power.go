package main

import (
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
	res := r.powerChange(types.VirtualMachinePowerStatePoweredOff, func(vm *simulator.VirtualMachine) soap.HasFault {
		return vm.PowerOffVMTask(ctx, req)
	})
	if res == nil {
		return &methods.PowerOffVM_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: r.target()})}
	}
	return res
}

func (r *vmRouter) SuspendVMTask(ctx *simulator.Context, req *types.SuspendVM_Task) soap.HasFault {
	res := r.powerChange(types.VirtualMachinePowerStateSuspended, func(vm *simulator.VirtualMachine) soap.HasFault {
		return vm.SuspendVMTask(ctx, req)
	})
	if res == nil {
		return &methods.SuspendVM_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: r.target()})}
	}
	return res
}
