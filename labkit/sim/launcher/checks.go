package main

import (
	"fmt"
	"math"
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

// poweredOn: the vMotion interface checks, the devices that prevent migration and memory admission apply
// "only when migrating a powered-on virtual machine" (API reference, VMotionInterfaceIssue, MigrationFault).
func poweredOn(vm *simulator.VirtualMachine) bool {
	return vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
}

// running: a powered-on or suspended VM keeps the CPU features it was powered on with, and must resume with
// them on the destination (vSphere "CPU Compatibility and EVC": migrations of running or suspended VMs).
func running(vm *simulator.VirtualMachine) bool {
	return poweredOn(vm) || vm.Runtime.PowerState == types.VirtualMachinePowerStateSuspended
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
	if hostChange && poweredOn(m.vm) {
		if want[sourceTests] {
			checkVMotionNic(&v, m.src, true)
		}
		if want[hostTests] {
			checkVMotionNic(&v, dest, false)
		}
		checkVMotionLinks(&v, m.src, dest, want)
	}
	if want[hostTests] && hostChange && running(m.vm) {
		checkCPU(&v, m.vm, dest)
	}
	if want[hostTests] && hostChange {
		checkHardwareVersion(&v, m.vm, dest)
		checkDevices(&v, m.vm, dest)
	}
	if want[datastoreTests] {
		checkDatastores(&v, m.vm, dest, m.datastore)
	}
	if want[networkTests] && hostChange {
		checkNetworks(&v, m.vm, m.src, dest)
	}
	if want[resourcePoolTests] && hostChange && poweredOn(m.vm) {
		checkMemory(&v, m.vm, dest)
	}
	return v
}

// -- host state --------------------------------------------------------------
// A migration needs a connected destination out of maintenance mode: MigrateVM_Task raises InvalidState "if the
// target host is disconnected or in maintenance mode" (RelocateVM_Task, CheckRelocate_Task: "if the host is in
// maintenance mode"). A disconnected host gets InvalidHostConnectionState, InvalidState's subtype for
// connection states. "You cannot power on virtual machines or migrate virtual machines to a host entering
// maintenance mode" (vSphere Resource Management, "Place a Host in Maintenance Mode"): that is InvalidState too.
func checkHostState(v *verdict, h *simulator.HostSystem) {
	switch {
	case h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected:
		v.fail(&types.InvalidHostConnectionState{InvalidHostState: types.InvalidHostState{Host: &h.Self}},
			"The destination host %s is %s; a migration needs a connected host.", h.Name, h.Runtime.ConnectionState)
	case h.Runtime.InMaintenanceMode:
		v.fail(&types.InvalidState{},
			"The destination host %s is in maintenance mode; it accepts no virtual machines.", h.Name)
	case enteringMaintenance(h):
		v.fail(&types.InvalidState{},
			"The destination host %s is entering maintenance mode; no virtual machine can be migrated to it.", h.Name)
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

// hostNetwork is the host's network configuration as its network system reports it.
func hostNetwork(h *simulator.HostSystem) *types.HostNetworkInfo {
	if h.ConfigManager.NetworkSystem != nil {
		if ns, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem); ok && ns.NetworkInfo != nil {
			return ns.NetworkInfo
		}
	}
	if h.Config != nil && h.Config.Network != nil {
		return h.Config.Network
	}
	return &types.HostNetworkInfo{}
}

// uplinks are the physical NICs behind a VMkernel adapter or a port group: the standard switch's pnic list,
// or, for a distributed port, the host's proxy switch of that distributed switch.
func vnicUplinks(net *types.HostNetworkInfo, nic types.HostVirtualNic) []types.PhysicalNic {
	if port := nic.Spec.DistributedVirtualPort; port != nil {
		for _, ps := range net.ProxySwitch {
			if ps.DvsUuid == port.SwitchUuid {
				return pnicsByKey(net, ps.Pnic)
			}
		}
		return nil
	}
	pnics, _ := switchUplinks(net, nic.Portgroup)
	return pnics
}

// switchUplinks are the physical NICs of the standard switch that holds a port group on this host, and
// whether the host has that port group at all.
func switchUplinks(net *types.HostNetworkInfo, portgroup string) ([]types.PhysicalNic, bool) {
	vswitch := ""
	for _, pg := range net.Portgroup {
		if pg.Spec.Name == portgroup {
			vswitch = pg.Spec.VswitchName
		}
	}
	for _, vs := range net.Vswitch {
		if vs.Name == vswitch {
			return pnicsByKey(net, vs.Pnic), true
		}
	}
	return nil, false
}

func pnicsByKey(net *types.HostNetworkInfo, keys []string) []types.PhysicalNic {
	var out []types.PhysicalNic
	for _, k := range keys {
		for _, p := range net.Pnic {
			if p.Key == k || p.Device == k {
				out = append(out, p)
			}
		}
	}
	return out
}

// vmotionNics are the host's VMkernel adapters selected for vMotion.
func vmotionNics(h *simulator.HostSystem) []types.HostVirtualNic {
	st := lab.vnics[h.Self]
	if st == nil {
		return nil
	}
	var out []types.HostVirtualNic
	for _, dev := range st.selected["vmotion"] {
		if i := st.find(dev); i >= 0 {
			out = append(out, st.nics[i])
		}
	}
	return out
}

// vnicMTU is an adapter's MTU; unset means the default 1500 (HostVirtualNicSpec.mtu).
func vnicMTU(nic types.HostVirtualNic) int32 {
	if nic.Spec.Mtu == 0 {
		return 1500
	}
	return nic.Spec.Mtu
}

// checkVMotionLinks looks at the physical links under each host's vMotion adapters (API reference):
//   - VMotionLinkDown, an error: "The VMotion interface does not have any operational physical links
//     associated with it" (no uplink, or none with a link speed: a link that is down reports none);
//   - VMotionLinkCapacityLow, a warning: "VMotion is supported on links that have a speed of at least 1000 Mbps
//     and are full duplex";
//   - different MTUs on the two hosts' vMotion adapters, a warning: "The source and destination hosts have
//     different vMotion vNIC MTU configurations" (Broadcom KB 432825). The KB names no fault type; the lab
//     reports it as MigrationFault, the type whose rule 4 makes "potential performance or connectivity problems
//     between the source and destination VMotion interfaces" a warning.
//
// A host without vMotion adapters has VMotionNotConfigured instead (checkVMotionNic).
func checkVMotionLinks(v *verdict, src, dest *simulator.HostSystem, want map[string]bool) {
	for _, side := range []struct {
		h        *simulator.HostSystem
		atSource bool
		test     string
	}{{src, true, sourceTests}, {dest, false, hostTests}} {
		if !want[side.test] {
			continue
		}
		nics := vmotionNics(side.h)
		if len(nics) == 0 {
			continue
		}
		net := hostNetwork(side.h)
		best, name := int32(0), nics[0].Portgroup
		fullDuplex := false
		for _, nic := range nics {
			for _, p := range vnicUplinks(net, nic) {
				if p.LinkSpeed == nil {
					continue
				}
				if p.LinkSpeed.SpeedMb > best || (p.LinkSpeed.SpeedMb == best && p.LinkSpeed.Duplex) {
					best, fullDuplex, name = p.LinkSpeed.SpeedMb, p.LinkSpeed.Duplex, nic.Portgroup
				}
			}
		}
		if name == "" { // an adapter on a distributed port: its port group's name
			if port := nics[0].Spec.DistributedVirtualPort; port != nil && port.PortgroupKey != "" {
				name = entityName(types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: port.PortgroupKey})
			} else {
				name = nics[0].Device
			}
		}
		issue := types.VMotionInterfaceIssue{AtSourceHost: side.atSource, FailedHost: side.h.Name, FailedHostEntity: &side.h.Self}
		where := map[bool]string{true: "source", false: "destination"}[side.atSource]
		switch {
		case best == 0:
			v.fail(&types.VMotionLinkDown{VMotionInterfaceIssue: issue, Network: name},
				"The vMotion interface of the %s host %s (%s) has no operational physical link: its switch has no connected physical adapter.", where, side.h.Name, name)
		case best < 1000 || !fullDuplex:
			duplex := map[bool]string{true: "full", false: "half"}[fullDuplex]
			v.warn(&types.VMotionLinkCapacityLow{VMotionInterfaceIssue: issue, Network: name},
				"The vMotion interface of the %s host %s (%s) runs on a %d Mbps %s-duplex link; vMotion is supported on links of at least 1000 Mbps, full duplex.", where, side.h.Name, name, best, duplex)
		}
	}
	if !want[hostTests] {
		return
	}
	a, b := vmotionNics(src), vmotionNics(dest)
	if len(a) > 0 && len(b) > 0 && vnicMTU(a[0]) != vnicMTU(b[0]) {
		v.warn(&types.MigrationFault{},
			"The source and destination hosts have different vMotion vNIC MTU configurations (%s: %d, %s: %d).",
			src.Name, vnicMTU(a[0]), dest.Name, vnicMTU(b[0]))
	}
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

// connected: "Indicates whether the device is currently connected. Valid only while the virtual machine is
// running" (API reference, VirtualDeviceConnectInfo.connected); the lab clears it at power-off and suspend.
func connected(vm *simulator.VirtualMachine, d types.BaseVirtualDevice) bool {
	c := d.GetVirtualDevice().Connectable
	return poweredOn(vm) && c != nil && c.Connected
}

// imageDatastore is the datastore an ISO or floppy image lives on: the backing's datastore, else the one its
// file name brackets ("[ds] iso/linux.iso"); nil for a path on the host itself ("[] /usr/lib/...").
func imageDatastore(b types.BaseVirtualDeviceFileBackingInfo) *types.ManagedObjectReference {
	fb := b.GetVirtualDeviceFileBackingInfo()
	if fb.Datastore != nil {
		return fb.Datastore
	}
	if !strings.HasPrefix(fb.FileName, "[") {
		return nil
	}
	name := strings.TrimPrefix(strings.SplitN(fb.FileName, "]", 2)[0], "[")
	if name == "" {
		return nil
	}
	for _, e := range simulator.Map.All("Datastore") {
		if e.Entity().Name == name {
			self := e.Reference()
			return &self
		}
	}
	return nil
}

// checkDevices: devices whose backing the destination cannot reach, and devices that prevent migration.
//   - CannotAccessVmDevice (API reference): "an error if the device is currently connected and a warning
//     otherwise"; for an inherently host-local backing (physical CD-ROM, serial port, ...) connected is an
//     error, and disconnected a warning "if no backing with the same name exists on the destination host".
//     The lab's hosts list no host-local backings, so a disconnected one is always that warning. A USB device on the host's own USB backing (VirtualUSBUSBBackingInfo)
//     is host-local: "The vSphere Server does not support vMotion for standard USB backing"; a device
//     configured for vMotion uses VirtualUSBRemoteHostBackingInfo and moves (API reference, VirtualUSB; VM
//     Administration, "Configuring USB Devices for vMotion"). An ISO or floppy image on a datastore the
//     destination does not mount is the same fault (VMware KB 1003787 connected, KB 1003794 disconnected).
//   - DisallowedMigrationDeviceAttached for a powered-on VM: a connected client device
//     (RemoteDeviceNotSupported), a PCI passthrough device (DeviceBackingNotSupported).
func checkDevices(v *verdict, vm *simulator.VirtualMachine, dest *simulator.HostSystem) {
	for _, d := range vm.Config.Hardware.Device {
		on := connected(vm, d)
		var label string // named only for a device that is reported: naming counts the VM's devices
		switch b := d.GetVirtualDevice().Backing.(type) {
		case *types.VirtualCdromAtapiBackingInfo, *types.VirtualCdromPassthroughBackingInfo,
			*types.VirtualSerialPortDeviceBackingInfo, *types.VirtualParallelPortDeviceBackingInfo,
			*types.VirtualFloppyDeviceBackingInfo, *types.VirtualUSBUSBBackingInfo:
			label = deviceLabel(vm, d)
			name := b.(types.BaseVirtualDeviceDeviceBackingInfo).GetVirtualDeviceDeviceBackingInfo().DeviceName
			fault := &types.CannotAccessVmDevice{Device: label, Backing: name, Connected: on}
			if on {
				v.fail(fault, "Currently connected device '%s' uses backing '%s', which is not accessible: it is a device of the source host only. Disconnect it before the migration.", label, name)
			} else {
				v.warn(fault, "Device '%s' uses backing '%s', which is not accessible on the destination host.", label, name)
			}
		case *types.VirtualCdromIsoBackingInfo, *types.VirtualFloppyImageBackingInfo:
			fb := b.(types.BaseVirtualDeviceFileBackingInfo)
			ds := imageDatastore(fb)
			if ds == nil || mountedOn(*ds, dest) {
				continue
			}
			name := fb.GetVirtualDeviceFileBackingInfo().FileName
			label = deviceLabel(vm, d)
			fault := &types.CannotAccessVmDevice{Device: label, Backing: name, Connected: on}
			if on {
				v.fail(fault, "Currently connected device '%s' uses backing '%s', which is not accessible: the host %s does not mount %s.", label, name, dest.Name, entityName(*ds))
			} else {
				v.warn(fault, "Device '%s' uses backing '%s', which is not accessible: the host %s does not mount %s.", label, name, dest.Name, entityName(*ds))
			}
		case *types.VirtualCdromRemotePassthroughBackingInfo, *types.VirtualCdromRemoteAtapiBackingInfo,
			*types.VirtualFloppyRemoteDeviceBackingInfo:
			if on {
				label = deviceLabel(vm, d)
				sub := types.LocalizedMethodFault{Fault: &types.RemoteDeviceNotSupported{DeviceNotSupported: types.DeviceNotSupported{Device: label}},
					LocalizedMessage: fmt.Sprintf("Device '%s' is a connected device with a remote (client) backing.", label)}
				v.fail(&types.DisallowedMigrationDeviceAttached{Fault: sub},
					"The virtual machine uses a device that prevents migration: '%s' is connected to a client device.", label)
			}
		case *types.VirtualPCIPassthroughDeviceBackingInfo:
			if !poweredOn(vm) {
				continue
			}
			label = deviceLabel(vm, d)
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
// checkNetworks: every network of the VM's adapters must reach the destination. CannotAccessNetwork is an
// error when "the virtual ethernet card device backing is a distributed virtual switch, of which the
// destination host is not a member" or "a standard network and the device is connected", a warning otherwise
// (API reference, CannotAccessNetwork). VMOnVirtualIntranet: "a virtual network that exists only within a
// single host", an error if the VM "is currently connected to the network and a warning otherwise" (API
// reference); by default vCenter refuses a VM "attached to a standard switch with no physical uplinks
// configured, even if the destination host also has a no-uplink standard switch with the same label"
// (vCenter Server and Host Management 6.7, "vSphere vMotion Networking Requirements"). The advanced setting
// config.migrate.test.CompatibleNetworks.VMOnVirtualIntranet that turns this off is not modelled.
func checkNetworks(v *verdict, vm *simulator.VirtualMachine, src, h *simulator.HostSystem) {
	srcNet := hostNetwork(src)
	for _, d := range vm.Config.Hardware.Device {
		nic, ok := d.(types.BaseVirtualEthernetCard)
		if !ok {
			continue
		}
		card := nic.GetVirtualEthernetCard()
		label := deviceLabel(vm, d)
		on := connected(vm, d)
		var ref types.ManagedObjectReference
		var reachable, distributed bool
		var name string
		switch b := card.Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			if b.Network != nil {
				ref = *b.Network
			}
			name = b.DeviceName
			reachable = containsRef(h.Network, ref)
			if pnics, found := switchUplinks(srcNet, name); found && len(pnics) == 0 {
				fault := &types.VMOnVirtualIntranet{CannotAccessNetwork: types.CannotAccessNetwork{
					CannotAccessVmDevice: types.CannotAccessVmDevice{Device: label, Backing: name, Connected: on}, Network: &ref}}
				if on {
					v.fail(fault, "Network interface '%s' is connected to '%s', an internal-only network: its standard switch on %s has no physical uplink.", label, name, src.Name)
				} else {
					v.warn(fault, "Network interface '%s' uses '%s', an internal-only network: its standard switch on %s has no physical uplink.", label, name, src.Name)
				}
			}
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			distributed = true
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
		fault := &types.CannotAccessNetwork{CannotAccessVmDevice: types.CannotAccessVmDevice{Device: label, Backing: name, Connected: on}, Network: &ref}
		switch {
		case distributed:
			v.fail(fault, "Network interface '%s' uses the distributed port group '%s'; the host %s is not a member of its switch.", label, name, h.Name)
		case on:
			v.fail(fault, "Currently connected network interface '%s' uses network '%s', which is not accessible on the host %s.", label, name, h.Name)
		default:
			v.warn(fault, "Network interface '%s' uses network '%s', which is not accessible on the host %s; it is not connected, so it will stay disconnected.", label, name, h.Name)
		}
	}
}

// -- memory --------------------------------------------------------------------
// Admission control: a VM's "user-specified memory reservation" plus its overhead memory must fit what the
// host has not yet reserved for its powered-on VMs (vSphere Resource Management, "Admission Control": "This
// extra memory commitment is included in the admission control calculation"). InsufficientMemoryResourcesFault
// gives unreserved and requested in bytes (API reference). A VM with no reservation needs only its overhead.

// overheadSample is vSphere Resource Management's "Sample Overhead Memory on Virtual Machines" (MB), by
// configured memory (MB) and vCPUs 1, 2, 4, 8.
var overheadSample = []struct {
	memoryMB float64
	byCPUs   [4]float64
}{
	{256, [4]float64{20.29, 24.28, 32.23, 48.16}},
	{1024, [4]float64{25.90, 29.91, 37.86, 53.82}},
	{4096, [4]float64{48.64, 52.72, 60.67, 76.78}},
	{16384, [4]float64{139.62, 143.98, 151.93, 168.60}},
}

// overheadMB is the lab's reading of the sample table: the column of the smallest of 1, 2, 4, 8 vCPUs that is
// at least the VM's (8 for more), linear in memory between the table's rows and along the nearest segment
// beyond them, rounded up to a whole MB. The table "does not attempt to provide information about all
// possible configurations"; this interpolation is the lab's, not VMware's.
func overheadMB(memoryMB, cpus int32) int64 {
	col := 3
	for i, n := range []int32{1, 2, 4, 8} {
		if cpus <= n {
			col = i
			break
		}
	}
	m := float64(memoryMB)
	seg := len(overheadSample) - 2
	for i := 0; i < len(overheadSample)-1; i++ {
		if m <= overheadSample[i+1].memoryMB {
			seg = i
			break
		}
	}
	a, b := overheadSample[seg], overheadSample[seg+1]
	mb := a.byCPUs[col] + (m-a.memoryMB)*(b.byCPUs[col]-a.byCPUs[col])/(b.memoryMB-a.memoryMB)
	if mb < 0 {
		mb = 0
	}
	return int64(math.Ceil(mb))
}

// reservationMB is config.memoryAllocation.reservation (MB; unset is 0).
func reservationMB(vm *simulator.VirtualMachine) int64 {
	if a := vm.Config.MemoryAllocation; a != nil && a.Reservation != nil {
		return *a.Reservation
	}
	return 0
}

// admissionMB is what a powered-on VM holds against its host: reservation plus overhead.
func admissionMB(vm *simulator.VirtualMachine) int64 {
	return reservationMB(vm) + overheadMB(vm.Config.Hardware.MemoryMB, vm.Config.Hardware.NumCPU)
}

// unreservedMB is the memory a host can still promise: its physical memory less the reservation and overhead
// of its powered-on VMs (except one). The host's own system reservation is not modelled.
func unreservedMB(h *simulator.HostSystem, except types.ManagedObjectReference) int64 {
	total := h.Hardware.MemorySize >> 20
	for _, ref := range h.Vm {
		if ref == except {
			continue
		}
		if other, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok && poweredOn(other) {
			total -= admissionMB(other)
		}
	}
	return total
}

func checkMemory(v *verdict, vm *simulator.VirtualMachine, h *simulator.HostSystem) {
	free := unreservedMB(h, vm.Self)
	need := admissionMB(vm)
	if need <= free {
		return
	}
	v.fail(&types.InsufficientMemoryResourcesFault{Unreserved: free << 20, Requested: need << 20},
		"The available memory resources on the host %s are insufficient for the operation: %d MB unreserved, %d MB requested (a reservation of %d MB plus %d MB overhead).",
		h.Name, free, need, reservationMB(vm), need-reservationMB(vm))
}
