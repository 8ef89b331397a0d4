package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The vMotion compatibility rules. Each one mirrors a check vCenter makes
// before a migration and reports with vCenter's fault type (see
// docs/vmotion-checks.md for the sources). They serve CheckMigrate_Task,
// CheckRelocate_Task and QueryVMotionCompatibilityEx_Task, and the same rules
// are enforced by MigrateVM_Task, RelocateVM_Task and maintenance mode.

// The testType values of CheckMigrate_Task / CheckRelocate_Task.
const (
	sourceTests       = "sourceTests"
	hostTests         = "hostTests"
	resourcePoolTests = "resourcePoolTests"
	datastoreTests    = "datastoreTests"
	networkTests      = "networkTests"
)

var allTests = []string{sourceTests, hostTests, resourcePoolTests, datastoreTests, networkTests}

// move is one proposed migration.
type move struct {
	vm        *simulator.VirtualMachine
	src       *simulator.HostSystem
	dest      *simulator.HostSystem         // nil: the host does not change
	datastore *types.ManagedObjectReference // nil: the storage does not change
	pool      *types.ManagedObjectReference
}

type verdict struct {
	errors   []types.LocalizedMethodFault
	warnings []types.LocalizedMethodFault
}

func (v *verdict) fail(f types.BaseMethodFault, format string, args ...interface{}) {
	v.errors = append(v.errors, types.LocalizedMethodFault{Fault: f, LocalizedMessage: fmt.Sprintf(format, args...)})
}

func (v *verdict) warn(f types.BaseMethodFault, format string, args ...interface{}) {
	v.warnings = append(v.warnings, types.LocalizedMethodFault{Fault: f, LocalizedMessage: fmt.Sprintf(format, args...)})
}

func hostOf(vm *simulator.VirtualMachine) *simulator.HostSystem {
	return simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
}

func entityName(ref types.ManagedObjectReference) string {
	if e, ok := simulator.Map.Get(ref).(mo.Entity); ok {
		return e.Entity().Name
	}
	return ref.Value
}

func running(vm *simulator.VirtualMachine) bool {
	return vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn ||
		vm.Runtime.PowerState == types.VirtualMachinePowerStateSuspended
}

// check evaluates the rules selected by tests (all when empty).
func check(m move, tests []string) verdict {
	if len(tests) == 0 {
		tests = allTests
	}
	want := map[string]bool{}
	for _, t := range tests {
		want[t] = true
	}
	var v verdict
	dest := m.dest
	if dest == nil {
		dest = m.src
	}
	hostChange := dest.Self != m.src.Self
	if want[hostTests] && hostChange {
		checkHostState(&v, dest)
	}
	if hostChange && running(m.vm) {
		if want[sourceTests] {
			checkVMotionNic(&v, m.src, true)
		}
		if want[hostTests] {
			checkVMotionNic(&v, dest, false)
			checkCPU(&v, m.vm, dest)
		}
	}
	if want[hostTests] && hostChange {
		checkHardwareVersion(&v, m.vm, dest)
		if running(m.vm) {
			checkDevices(&v, m.vm)
		}
	}
	if want[datastoreTests] {
		checkDatastores(&v, m.vm, dest, m.datastore)
	}
	if want[networkTests] && hostChange {
		checkNetworks(&v, m.vm, dest)
	}
	if want[resourcePoolTests] && hostChange && m.vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		checkMemory(&v, m.vm, dest)
	}
	return v
}

// -- host state --------------------------------------------------------------
func checkHostState(v *verdict, h *simulator.HostSystem) {
	switch {
	case h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected:
		v.fail(&types.InvalidHostConnectionState{InvalidHostState: types.InvalidHostState{Host: &h.Self}},
			"The destination host %s is %s; a migration needs a connected host.", h.Name, h.Runtime.ConnectionState)
	case h.Runtime.InMaintenanceMode:
		v.fail(&types.InvalidHostState{Host: &h.Self},
			"The destination host %s is in maintenance mode; it accepts no virtual machines.", h.Name)
	}
}

// -- vMotion network ---------------------------------------------------------
func checkVMotionNic(v *verdict, h *simulator.HostSystem, atSource bool) {
	if len(vmotionVnics(h)) > 0 {
		return
	}
	side := "destination"
	if atSource {
		side = "source"
	}
	v.fail(&types.VMotionNotConfigured{VMotionInterfaceIssue: types.VMotionInterfaceIssue{
		AtSourceHost: atSource, FailedHost: h.Name, FailedHostEntity: &h.Self}},
		"The vMotion interface is not configured (or is misconfigured) on the %s host %s: no VMkernel adapter has the vMotion service enabled.", side, h.Name)
}

// -- CPU and EVC -------------------------------------------------------------

// hostCapabilities is what the host exposes to VMs: the masked list (its own
// features, limited to the cluster's EVC mode when one is set).
func hostCapabilities(h *simulator.HostSystem) map[string]string {
	out := map[string]string{}
	list := h.Config.MaskedFeatureCapability
	if len(list) == 0 {
		list = h.Config.FeatureCapability
	}
	for _, c := range list {
		out[strings.ToLower(c.Key)] = c.Value
	}
	return out
}

// meets evaluates one feature requirement "Type:Op:Value" (Bool:Min:1,
// Num:Match:6) against a capability value.
func meets(requirement, capability string) bool {
	parts := strings.SplitN(requirement, ":", 3)
	if len(parts) != 3 {
		return false
	}
	want, err1 := strconv.ParseInt(strings.TrimPrefix(parts[2], "0x"), base(parts[2]), 64)
	have, err2 := strconv.ParseInt(strings.TrimPrefix(capability, "0x"), base(capability), 64)
	if err1 != nil || err2 != nil {
		return parts[1] == "Match" && parts[2] == capability
	}
	if parts[1] == "Min" {
		return have >= want
	}
	return have == want
}

func base(s string) int {
	if strings.HasPrefix(s, "0x") {
		return 16
	}
	return 10
}

func requirementKeys(vm *simulator.VirtualMachine) map[string]string {
	out := map[string]string{}
	for _, r := range vm.Runtime.FeatureRequirement {
		out[strings.ToLower(r.Key)] = r.Value
	}
	return out
}

func checkCPU(v *verdict, vm *simulator.VirtualMachine, h *simulator.HostSystem) {
	caps := hostCapabilities(h)
	var missing []types.VirtualMachineFeatureRequirement
	for _, r := range vm.Runtime.FeatureRequirement {
		have, ok := caps[strings.ToLower(r.Key)]
		if !ok || !meets(r.Value, have) {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return
	}
	var names []string
	for _, r := range missing {
		names = append(names, strings.TrimPrefix(strings.ToLower(r.Key), "cpuid."))
	}
	sort.Strings(names)
	fault := &types.FeatureRequirementsNotMet{FeatureRequirement: missing, Vm: &vm.Self, Host: &h.Self}
	for _, vendor := range []string{"intel", "amd"} {
		if _, needs := requirementKeys(vm)["cpuid."+vendor]; needs {
			if _, has := caps["cpuid."+vendor]; !has {
				v.fail(fault, "The target host %s has a CPU of another vendor than the one the virtual machine runs on (%s): vMotion never crosses CPU vendors, and no EVC mode bridges them (VMware KB 1005764). A powered-off virtual machine can be migrated cold.",
					h.Name, strings.ToUpper(vendor[:1])+vendor[1:])
				return
			}
		}
	}
	evc := ""
	if h.Summary.CurrentEVCModeKey != "" {
		evc = fmt.Sprintf(" (its cluster's EVC mode is %s)", h.Summary.CurrentEVCModeKey)
	}
	v.fail(fault,
		"The target host %s%s does not support the virtual machine's current hardware requirements: missing CPU features %s. Use a cluster with Enhanced vMotion Compatibility (EVC) to keep CPU features uniform (VMware KB 1003212).",
		h.Name, evc, strings.Join(names, ", "))
}

// -- virtual hardware version -----------------------------------------------
func hardwareVersion(vm *simulator.VirtualMachine) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(vm.Config.Version, "vmx-"))
	return n
}

func checkHardwareVersion(v *verdict, vm *simulator.VirtualMachine, h *simulator.HostSystem) {
	max, known := lab.maxHWVersion[h.Self]
	if !known || max == 0 {
		return
	}
	if hw := hardwareVersion(vm); hw > max {
		v.fail(&types.VirtualHardwareVersionNotSupported{HostName: h.Name, Host: h.Self},
			"The virtual machine's virtual hardware version (%s) is not supported on the host %s (ESXi %s runs virtual hardware up to vmx-%d).",
			vm.Config.Version, h.Name, h.Config.Product.Version, max)
	}
}

// -- devices -------------------------------------------------------------------
// deviceKind is the name the vSphere Client gives a device's kind, before its number.
func deviceKind(x types.BaseVirtualDevice) string {
	switch x.(type) {
	case types.BaseVirtualEthernetCard:
		return "Network adapter"
	case *types.VirtualCdrom:
		return "CD/DVD drive"
	case *types.VirtualSerialPort:
		return "Serial port"
	case *types.VirtualFloppy:
		return "Floppy drive"
	case *types.VirtualPCIPassthrough:
		return "PCI device"
	case *types.VirtualDisk:
		return "Hard disk"
	case *types.VirtualUSB:
		return "USB device"
	}
	return object.VirtualDeviceList{}.Name(x)
}

// deviceLabel names a device as the vSphere Client does: "Network adapter 1",
// "CD/DVD drive 1", counting devices of the same kind in the VM.
func deviceLabel(vm *simulator.VirtualMachine, d types.BaseVirtualDevice) string {
	if info := d.GetVirtualDevice().DeviceInfo; info != nil {
		if desc := info.GetDescription(); desc != nil && desc.Label != "" && !strings.Contains(desc.Label, "-") {
			return desc.Label
		}
	}
	want := deviceKind(d)
	n := 0
	for _, other := range vm.Config.Hardware.Device {
		if deviceKind(other) == want {
			n++
		}
		if other.GetVirtualDevice().Key == d.GetVirtualDevice().Key {
			break
		}
	}
	return fmt.Sprintf("%s %d", want, n)
}

func connected(d types.BaseVirtualDevice) bool {
	c := d.GetVirtualDevice().Connectable
	return c != nil && c.Connected
}

// checkDevices: a running VM cannot take a device backed by something only the
// source host has, nor a passthrough device, to another host.
func checkDevices(v *verdict, vm *simulator.VirtualMachine) {
	for _, d := range vm.Config.Hardware.Device {
		label := deviceLabel(vm, d)
		switch b := d.GetVirtualDevice().Backing.(type) {
		case *types.VirtualCdromAtapiBackingInfo, *types.VirtualCdromPassthroughBackingInfo,
			*types.VirtualSerialPortDeviceBackingInfo, *types.VirtualParallelPortDeviceBackingInfo,
			*types.VirtualFloppyDeviceBackingInfo:
			name := b.(types.BaseVirtualDeviceDeviceBackingInfo).GetVirtualDeviceDeviceBackingInfo().DeviceName
			fault := &types.CannotAccessVmDevice{Device: label, Backing: name, Connected: connected(d)}
			if connected(d) {
				v.fail(fault, "Device '%s' is connected to %s, a device of the source host only; disconnect it before the migration.", label, name)
			} else {
				v.warn(fault, "Device '%s' uses backing '%s', which may not be accessible on the destination host.", label, name)
			}
		case *types.VirtualCdromRemotePassthroughBackingInfo, *types.VirtualCdromRemoteAtapiBackingInfo,
			*types.VirtualFloppyRemoteDeviceBackingInfo:
			if connected(d) {
				sub := types.LocalizedMethodFault{Fault: &types.RemoteDeviceNotSupported{DeviceNotSupported: types.DeviceNotSupported{Device: label}},
					LocalizedMessage: fmt.Sprintf("Device '%s' is a connected device with a remote (client) backing.", label)}
				v.fail(&types.DisallowedMigrationDeviceAttached{Fault: sub},
					"The virtual machine uses a device that prevents migration: '%s' is connected to a client device.", label)
			}
		case *types.VirtualPCIPassthroughDeviceBackingInfo:
			sub := types.LocalizedMethodFault{Fault: &types.DeviceBackingNotSupported{DeviceNotSupported: types.DeviceNotSupported{Device: label}, Backing: "PCI passthrough"},
				LocalizedMessage: fmt.Sprintf("Device '%s' is a PCI passthrough (DirectPath I/O) device.", label)}
			v.fail(&types.DisallowedMigrationDeviceAttached{Fault: sub},
				"The virtual machine uses a device that prevents migration: '%s' is a PCI passthrough device.", label)
		}
	}
}

// -- storage -------------------------------------------------------------------
// hostMount is h's mount of the datastore, or nil when h does not mount it.
func hostMount(dsRef types.ManagedObjectReference, h *simulator.HostSystem) *types.DatastoreHostMount {
	ds, ok := simulator.Map.Get(dsRef).(*simulator.Datastore)
	if !ok {
		return nil
	}
	for i := range ds.Host {
		if ds.Host[i].Key == h.Self {
			return &ds.Host[i]
		}
	}
	return nil
}

// mountedOn says whether h mounts the datastore and can reach it.
func mountedOn(dsRef types.ManagedObjectReference, h *simulator.HostSystem) bool {
	m := hostMount(dsRef, h)
	return m != nil && (m.MountInfo.Accessible == nil || *m.MountInfo.Accessible)
}

// readOnlyOn says whether h mounts the datastore with accessMode readOnly.
func readOnlyOn(dsRef types.ManagedObjectReference, h *simulator.HostSystem) bool {
	m := hostMount(dsRef, h)
	return m != nil && m.MountInfo.AccessMode == string(types.HostMountModeReadOnly)
}

func checkDatastores(v *verdict, vm *simulator.VirtualMachine, h *simulator.HostSystem, target *types.ManagedObjectReference) {
	needed := vm.Datastore
	if target != nil {
		needed = []types.ManagedObjectReference{*target}
	}
	for _, ref := range needed {
		name := entityName(ref)
		r := ref
		fault := &types.DatastoreNotWritableOnHost{InvalidDatastore: types.InvalidDatastore{Datastore: &r, Name: name}, Host: h.Self}
		switch {
		case !mountedOn(ref, h):
			v.fail(fault, "The datastore %s is not accessible from the host %s. Move the virtual machine's files too (Storage vMotion, or a host and datastore change together).", name, h.Name)
		case readOnlyOn(ref, h):
			// DatastoreNotWritableOnHost: "the datastore is not writable on the host" (API reference)
			v.fail(fault, "The datastore %s is mounted read-only on the host %s: the virtual machine's files cannot be written there. Mount it read-write, or choose another datastore.", name, h.Name)
		}
	}
}

// -- networks ------------------------------------------------------------------
func checkNetworks(v *verdict, vm *simulator.VirtualMachine, h *simulator.HostSystem) {
	for _, d := range vm.Config.Hardware.Device {
		nic, ok := d.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		card := nic.GetVirtualEthernetCard()
		label := deviceLabel(vm, d)
		var ref types.ManagedObjectReference
		var reachable bool
		var name string
		switch b := card.Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			if b.Network != nil {
				ref = *b.Network
			}
			name = b.DeviceName
			reachable = containsRef(h.Network, ref)
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			ref = types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
			name = entityName(ref)
			if pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup); ok {
				reachable = containsRef(pg.Host, h.Self)
			}
		default:
			continue
		}
		if reachable {
			continue
		}
		fault := &types.CannotAccessNetwork{CannotAccessVmDevice: types.CannotAccessVmDevice{Device: label, Backing: name, Connected: connected(d)}, Network: &ref}
		_, distributed := card.Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo)
		if connected(d) || distributed {
			v.fail(fault, "Currently connected network interface '%s' uses network '%s', which is not accessible on the host %s.", label, name, h.Name)
		} else {
			v.warn(fault, "Network interface '%s' uses network '%s', which is not accessible on the host %s; it is not connected, so it will stay disconnected.", label, name, h.Name)
		}
	}
}

// -- memory --------------------------------------------------------------------

// unreservedMB is the memory a host can still give VMs: its physical memory
// less what its powered-on VMs are configured with (the lab's simple form of
// admission control: no overhead, no overcommitment).
func unreservedMB(h *simulator.HostSystem, except types.ManagedObjectReference) int64 {
	total := h.Hardware.MemorySize >> 20
	for _, ref := range h.Vm {
		if ref == except {
			continue
		}
		if other, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok &&
			other.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			total -= int64(other.Config.Hardware.MemoryMB)
		}
	}
	return total
}

func checkMemory(v *verdict, vm *simulator.VirtualMachine, h *simulator.HostSystem) {
	free := unreservedMB(h, vm.Self)
	need := int64(vm.Config.Hardware.MemoryMB)
	if need <= free {
		return
	}
	v.fail(&types.InsufficientMemoryResourcesFault{Unreserved: free << 20, Requested: need << 20},
		"The available memory resources on the host %s are insufficient for the operation: %d MB free, %d MB requested.", h.Name, free, need)
}
