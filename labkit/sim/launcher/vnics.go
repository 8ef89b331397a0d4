package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// VMkernel adapters and the services enabled on them, at run time.
//
// vSphere reports a host's VMkernel adapters (vmk0, vmk1, ...) and the
// services selected on each in several places: config.network.vnic,
// the network system's networkInfo.vnic, config.virtualNicManagerInfo (one
// net config per service: candidates and selected adapters), and, for
// vMotion, config.vmotion and summary.config.vmotionEnabled. The simulator
// package has neither the calls that change them (AddVirtualNic,
// SelectVnicForNicType, ...) nor the HostVirtualNicManager and
// HostVMotionSystem objects, so the lab keeps one record per host and
// publishes it to all of those places after every change. The vMotion
// network check reads the vmotion selection, so enabling the service on an
// adapter flips it.

// nicTypes are the HostVirtualNicManagerNicType values the lab accepts.
var nicTypes = []string{"management", "vmotion", "faultToleranceLogging", "vSphereReplication",
	"vSphereReplicationNFC", "vsan", "vSphereProvisioning", "vsanWitness", "vSphereBackupNFC", "ptp",
	"nvmeTcp", "nvmeRdma"}

type hostVnics struct {
	nics     []types.HostVirtualNic
	selected map[string][]string // nic type -> devices, in the order they were selected
	next     int                 // the number of the next vmk device
	index    int                 // the host's position in the scenario, for addresses
}

type vnicManager struct {
	mo.HostVirtualNicManager
	host types.ManagedObjectReference
}

type vmotionSystem struct {
	mo.HostVMotionSystem
	host types.ManagedObjectReference
}

func validNicType(t string) bool {
	for _, n := range nicTypes {
		if n == t {
			return true
		}
	}
	return false
}

func vnicKey(device string) string { return "key-vim.host.VirtualNic-" + device }

// setVMotionVnics gives a host from a scenario its management adapter vmk0
// and the listed adapters on the "vMotion" port group, selected for vMotion.
func setVMotionVnics(h *simulator.HostSystem, devices []string, mtu int32, index int) {
	if mtu == 0 {
		mtu = 1500
	}
	st := &hostVnics{selected: map[string][]string{"management": {"vmk0"}}, next: 1, index: index}
	st.nics = append(st.nics, types.HostVirtualNic{Device: "vmk0", Key: vnicKey("vmk0"), Portgroup: "Management Network",
		Spec: types.HostVirtualNicSpec{Mtu: 1500, Portgroup: "Management Network", Mac: fmt.Sprintf("00:50:56:6a:%02x:00", index%256),
			Ip: &types.HostIpConfig{IpAddress: fmt.Sprintf("192.168.10.%d", 10+index%240), SubnetMask: "255.255.255.0"}}})
	for i, dev := range devices {
		st.nics = append(st.nics, types.HostVirtualNic{Device: dev, Key: vnicKey(dev), Portgroup: "vMotion",
			Spec: types.HostVirtualNicSpec{Mtu: mtu, Portgroup: "vMotion", Mac: fmt.Sprintf("00:50:56:6b:%02x:%02x", index%256, i),
				Ip: &types.HostIpConfig{IpAddress: fmt.Sprintf("10.10.%d.%d", i, 10+index%240), SubnetMask: "255.255.255.0"}}})
		st.selected["vmotion"] = append(st.selected["vmotion"], dev)
		var n int
		if _, err := fmt.Sscanf(dev, "vmk%d", &n); err == nil && n >= st.next {
			st.next = n + 1
		}
	}
	lab.vnics[h.Self] = st
	ensureHostManagers(h)
	recordPortgroup(h, "Management Network")
	if len(devices) > 0 {
		recordPortgroup(h, "vMotion")
	}
	publishVnics(h)
}

// recordPortgroup lists a VMkernel-only port group of a scenario host on its
// vSwitch0, as ESXi reports it; vCenter shows no VM network for it.
func recordPortgroup(h *simulator.HostSystem, name string) {
	if h.ConfigManager.NetworkSystem == nil {
		return
	}
	ns, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
	if !ok || ns.NetworkInfo == nil {
		return
	}
	if !hasPortgroup(ns, name) {
		ns.NetworkInfo.Portgroup = append(ns.NetworkInfo.Portgroup, types.HostPortGroup{
			Key: "key-vim.host.PortGroup-" + name, Spec: types.HostPortGroupSpec{Name: name, VswitchName: "vSwitch0"}})
	}
	for i := range ns.NetworkInfo.Vswitch {
		vs := &ns.NetworkInfo.Vswitch[i]
		if vs.Name == "vSwitch0" && !containsString(vs.Portgroup, name) {
			vs.Portgroup = append(vs.Portgroup, name)
		}
	}
}

// ensureHostManagers gives the host a HostVirtualNicManager, a HostVMotionSystem and a HostVsanSystem. The
// simulator's host template names them (ha-vnic-mgr, ha-vmotion-system, vsanSystem) but registers none.
func ensureHostManagers(h *simulator.HostSystem) {
	if ref := h.ConfigManager.VirtualNicManager; ref == nil || !isVnicManager(*ref) {
		m := &vnicManager{host: h.Self}
		m.Self = types.ManagedObjectReference{Type: "HostVirtualNicManager", Value: "virtualNicManager-" + h.Self.Value}
		simulator.Map.Put(m)
		h.ConfigManager.VirtualNicManager = &m.Self
	}
	if ref := h.ConfigManager.VmotionSystem; ref == nil || !isVMotionSystem(*ref) {
		s := &vmotionSystem{host: h.Self}
		s.Self = types.ManagedObjectReference{Type: "HostVMotionSystem", Value: "vmotionSystem-" + h.Self.Value}
		simulator.Map.Put(s)
		h.ConfigManager.VmotionSystem = &s.Self
	}
	if ref := h.ConfigManager.VsanSystem; ref == nil || !isVsanSystem(*ref) {
		s := newVsanSystem(h)
		simulator.Map.Put(s)
		h.ConfigManager.VsanSystem = &s.Self
	}
	ensureHostServices(h)
}

func isVnicManager(ref types.ManagedObjectReference) bool {
	_, ok := simulator.Map.Get(ref).(*vnicManager)
	return ok
}

func isVMotionSystem(ref types.ManagedObjectReference) bool {
	_, ok := simulator.Map.Get(ref).(*vmotionSystem)
	return ok
}

func (st *hostVnics) find(device string) int {
	for i, v := range st.nics {
		if v.Device == device {
			return i
		}
	}
	return -1
}

// netConfig is what QueryNetConfig answers for one service.
func (st *hostVnics) netConfig(nicType string) types.VirtualNicManagerNetConfig {
	var cand []types.HostVirtualNic
	for _, v := range st.nics {
		v.Key = nicType + "." + v.Key
		cand = append(cand, v)
	}
	var sel []string
	for _, d := range st.selected[nicType] {
		sel = append(sel, nicType+"."+vnicKey(d))
	}
	return types.VirtualNicManagerNetConfig{NicType: nicType, MultiSelectAllowed: true,
		CandidateVnic: cand, SelectedVnic: sel}
}

// publishVnics writes the host's record to every place vSphere reports it.
func publishVnics(h *simulator.HostSystem) {
	st := lab.vnics[h.Self]
	if st == nil {
		return
	}
	nics := append([]types.HostVirtualNic(nil), st.nics...)

	net := *h.Config.Network
	net.Vnic = nics
	h.Config.Network = &net
	if h.ConfigManager.NetworkSystem != nil {
		if ns, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem); ok && ns.NetworkInfo != nil {
			ns.NetworkInfo.Vnic = append([]types.HostVirtualNic(nil), nics...)
			syncHostNetwork(h)
		}
	}

	var configs []types.VirtualNicManagerNetConfig
	kinds := []string{"management", "vmotion"}
	for t := range st.selected {
		if t != "management" && t != "vmotion" && len(st.selected[t]) > 0 {
			kinds = append(kinds, t)
		}
	}
	sort.Strings(kinds[2:])
	for _, t := range kinds {
		configs = append(configs, st.netConfig(t))
	}
	info := types.HostVirtualNicManagerInfo{NetConfig: configs}
	h.Config.VirtualNicManagerInfo = &info

	vmotion := st.selected["vmotion"]
	var cand []types.HostVirtualNic
	for _, v := range nics {
		v.Key = "VMotionConfig.vmotion." + v.Key
		cand = append(cand, v)
	}
	vnc := &types.HostVMotionNetConfig{CandidateVnic: cand}
	var ip *types.HostIpConfig
	mtu := int32(1500)
	if len(vmotion) > 0 {
		vnc.SelectedVnic = "VMotionConfig.vmotion." + vnicKey(vmotion[0])
		if i := st.find(vmotion[0]); i >= 0 {
			ip = st.nics[i].Spec.Ip
			if st.nics[i].Spec.Mtu > 0 {
				mtu = st.nics[i].Spec.Mtu
			}
		}
	}
	h.Config.Vmotion = &types.HostVMotionInfo{NetConfig: vnc, IpConfig: ip}
	h.Summary.Config.VmotionEnabled = len(vmotion) > 0
	lab.vmotionMTU[h.Self] = mtu

	if h.ConfigManager.VirtualNicManager != nil {
		if m, ok := simulator.Map.Get(*h.ConfigManager.VirtualNicManager).(*vnicManager); ok {
			m.Info = info
		}
	}
	if h.ConfigManager.VmotionSystem != nil {
		if s, ok := simulator.Map.Get(*h.ConfigManager.VmotionSystem).(*vmotionSystem); ok {
			s.NetConfig = vnc
			s.IpConfig = ip
		}
	}
	publishVsan(h, st)
	simulator.Map.Update(h, []types.PropertyChange{
		{Name: "config.network", Val: h.Config.Network},
		{Name: "config.virtualNicManagerInfo", Val: h.Config.VirtualNicManagerInfo},
		{Name: "config.vmotion", Val: h.Config.Vmotion},
		{Name: "summary.config.vmotionEnabled", Val: h.Summary.Config.VmotionEnabled},
	})
}

// vmotionVnics lists the devices selected for vMotion on a host.
func vmotionVnics(h *simulator.HostSystem) []string {
	if st := lab.vnics[h.Self]; st != nil {
		return append([]string(nil), st.selected["vmotion"]...)
	}
	return nil
}

// vnicDevice accepts a device name (vmk1) or a candidate key (vmotion.key-vim.host.VirtualNic-vmk1).
func vnicDevice(arg string) string {
	if i := strings.LastIndex(arg, "VirtualNic-"); i >= 0 {
		return arg[i+len("VirtualNic-"):]
	}
	return arg
}

func (st *hostVnics) selectFor(nicType, device string) {
	for _, d := range st.selected[nicType] {
		if d == device {
			return
		}
	}
	st.selected[nicType] = append(st.selected[nicType], device)
}

func (st *hostVnics) deselect(nicType, device string) bool {
	var keep []string
	found := false
	for _, d := range st.selected[nicType] {
		if d == device {
			found = true
		} else {
			keep = append(keep, d)
		}
	}
	st.selected[nicType] = keep
	return found
}

func (r *netRouter) vnicState() (*hostVnics, *simulator.HostNetworkSystem, *simulator.HostSystem) {
	ns, h := r.system()
	if ns == nil || h == nil {
		return nil, nil, nil
	}
	st := lab.vnics[h.Self]
	if st == nil {
		setVMotionVnics(h, nil, 1500, 0)
		st = lab.vnics[h.Self]
	}
	return st, ns, h
}

func checkNicMTU(mtu int32) *soap.Fault {
	if mtu != 0 && (mtu < 1280 || mtu > 9000) {
		return simulator.Fault(fmt.Sprintf("An MTU of %d is outside 1280 to 9000.", mtu),
			&types.InvalidArgument{InvalidProperty: "nic.mtu"})
	}
	return nil
}

// distributedSwitch finds a distributed switch by its UUID.
func distributedSwitch(uuid string) *simulator.DistributedVirtualSwitch {
	for _, e := range simulator.Map.All("") {
		if s, ok := e.(*simulator.DistributedVirtualSwitch); ok && s.Uuid == uuid {
			return s
		}
	}
	return nil
}

// checkDistributedPort checks an adapter's connection to a distributed port group (HostVirtualNicSpec.
// distributedVirtualPort: switchUuid and portgroupKey): NotFound for an unknown switch or a port group key that
// is not the switch's, InvalidArgument when the host is no member of the switch. "You can specify this property
// [portgroup] only if you do not specify distributedVirtualPort" (API reference, HostVirtualNicSpec.portgroup,
// https://github.com/vmware/pyvmomi/blob/master/docs/vim/host/VirtualNic/Specification.rst).
func (m *netModel) checkDistributedPort(portgroup string, port *types.DistributedVirtualSwitchPortConnection) *soap.Fault {
	if portgroup != "" {
		return simulator.Fault("A VMkernel adapter connects to a standard port group or a distributed port, not both.",
			&types.InvalidArgument{InvalidProperty: "nic.portgroup"})
	}
	sw := distributedSwitch(port.SwitchUuid)
	if sw == nil {
		return simulator.Fault(fmt.Sprintf("There is no distributed switch with UUID %s.", port.SwitchUuid), &types.NotFound{})
	}
	if !containsRef(sw.Summary.HostMember, m.host.Self) {
		return simulator.Fault(fmt.Sprintf("%s is not a member of the distributed switch %s.", m.host.Name, sw.Name),
			&types.InvalidArgument{InvalidProperty: "nic.distributedVirtualPort.switchUuid"})
	}
	for _, ref := range sw.Portgroup {
		if pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup); ok && pg.Key == port.PortgroupKey {
			return nil
		}
	}
	return simulator.Fault(fmt.Sprintf("The distributed switch %s has no port group with key %q.", sw.Name, port.PortgroupKey),
		&types.NotFound{})
}

// distributedPort is the connection an adapter gets: the client's, with the first port of the port group that no
// VM NIC and no VMkernel adapter on the switch holds when the client names none.
func distributedPort(port types.DistributedVirtualSwitchPortConnection) *types.DistributedVirtualSwitchPortConnection {
	c := port
	if c.PortKey != "" {
		return &c
	}
	sw := distributedSwitch(c.SwitchUuid)
	if sw == nil {
		return &c
	}
	used := map[string]bool{}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok || vm.Config == nil {
			continue
		}
		for _, d := range vm.Config.Hardware.Device {
			if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
				if b, ok := nic.GetVirtualEthernetCard().Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok &&
					b.Port.SwitchUuid == c.SwitchUuid {
					used[b.Port.PortKey] = true
				}
			}
		}
	}
	for _, st := range lab.vnics {
		for _, v := range st.nics {
			if p := v.Spec.DistributedVirtualPort; p != nil && p.SwitchUuid == c.SwitchUuid {
				used[p.PortKey] = true
			}
		}
	}
	for _, ref := range sw.Portgroup {
		if pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup); ok && pg.Key == c.PortgroupKey {
			for _, k := range pg.PortKeys {
				if !used[k] {
					c.PortKey = k
					return &c
				}
			}
		}
	}
	return &c
}

// checkAddVnic: a standard port group that exists (InvalidArgument), holds no other VMkernel adapter
// (AlreadyExists), or a distributed port (checkDistributedPort); the MTU.
func (m *netModel) checkAddVnic(portgroup string, spec *types.HostVirtualNicSpec) *soap.Fault {
	if spec == nil {
		return simulator.Fault("A VMkernel adapter needs a spec.", &types.InvalidArgument{InvalidProperty: "nic"})
	}
	if spec.DistributedVirtualPort != nil {
		if f := m.checkDistributedPort(portgroup, spec.DistributedVirtualPort); f != nil {
			return f
		}
	} else {
		if m.pgs[portgroup] == "" {
			return simulator.Fault(fmt.Sprintf("There is no port group %s on %s: create it first (AddPortGroup).", portgroup, m.host.Name),
				&types.InvalidArgument{InvalidProperty: "portgroup"})
		}
		for dev, pg := range m.vnics {
			if pg == portgroup {
				return simulator.Fault(fmt.Sprintf("The port group %s on %s already has the VMkernel adapter %s.", portgroup, m.host.Name, dev),
					&types.AlreadyExists{Name: dev})
			}
		}
	}
	if f := checkNicMTU(spec.Mtu); f != nil {
		return f
	}
	m.vnics[fmt.Sprintf("new-%d", len(m.vnics))] = portgroup
	return nil
}

// addVnic creates the next vmk adapter, on a standard port group or a distributed port.
func addVnic(st *hostVnics, portgroup string, spec types.HostVirtualNicSpec) string {
	if spec.Mtu == 0 {
		spec.Mtu = 1500
	}
	device := fmt.Sprintf("vmk%d", st.next)
	st.next++
	spec.Portgroup = portgroup
	if spec.DistributedVirtualPort != nil {
		spec.DistributedVirtualPort = distributedPort(*spec.DistributedVirtualPort)
	}
	if spec.Mac == "" {
		spec.Mac = fmt.Sprintf("00:50:56:6c:%02x:%02x", st.index%256, st.next%256)
	}
	if spec.Ip == nil {
		spec.Ip = &types.HostIpConfig{Dhcp: true}
	}
	st.nics = append(st.nics, types.HostVirtualNic{Device: device, Key: vnicKey(device), Portgroup: portgroup, Spec: spec})
	return device
}

func (m *netModel) checkUpdateVnic(device string, spec *types.HostVirtualNicSpec) *soap.Fault {
	if _, ok := m.vnics[device]; !ok {
		return simulator.Fault(fmt.Sprintf("There is no VMkernel adapter %s on %s.", device, m.host.Name), &types.NotFound{})
	}
	if spec == nil {
		return simulator.Fault("UpdateVirtualNic needs a spec.", &types.InvalidArgument{InvalidProperty: "nic"})
	}
	if f := checkNicMTU(spec.Mtu); f != nil {
		return f
	}
	if spec.DistributedVirtualPort != nil {
		if f := m.checkDistributedPort(spec.Portgroup, spec.DistributedVirtualPort); f != nil {
			return f
		}
		m.vnics[device] = ""
	} else if pg := spec.Portgroup; pg != "" {
		if m.pgs[pg] == "" {
			return simulator.Fault(fmt.Sprintf("There is no port group %s on %s.", pg, m.host.Name),
				&types.InvalidArgument{InvalidProperty: "nic.portgroup"})
		}
		m.vnics[device] = pg
	}
	return nil
}

// updateVnic changes an adapter's MTU, addresses, MAC, or what it connects to: another standard port group
// ("When reconfiguring a virtual NIC, this property indicates the new portgroup to which the virtual NIC should
// connect", HostVirtualNicSpec.portgroup) or a distributed port. Its services (vMotion, ...) stay selected.
func updateVnic(st *hostVnics, device string, spec types.HostVirtualNicSpec) {
	i := st.find(device)
	if i < 0 {
		return
	}
	nic := st.nics[i]
	if spec.Mtu != 0 {
		nic.Spec.Mtu = spec.Mtu
	}
	if spec.Ip != nil {
		nic.Spec.Ip = spec.Ip
	}
	if spec.Mac != "" {
		nic.Spec.Mac = spec.Mac
	}
	if spec.IpRouteSpec != nil { // the adapter's own default gateway ("default gateway override", since API 6.5)
		nic.Spec.IpRouteSpec = spec.IpRouteSpec
	}
	switch {
	case spec.DistributedVirtualPort != nil:
		cur := nic.Spec.DistributedVirtualPort
		if cur == nil || cur.SwitchUuid != spec.DistributedVirtualPort.SwitchUuid ||
			cur.PortgroupKey != spec.DistributedVirtualPort.PortgroupKey || spec.DistributedVirtualPort.PortKey != "" {
			nic.Spec.DistributedVirtualPort = distributedPort(*spec.DistributedVirtualPort)
		}
		nic.Portgroup, nic.Spec.Portgroup = "", ""
	case spec.Portgroup != "":
		nic.Portgroup, nic.Spec.Portgroup = spec.Portgroup, spec.Portgroup
		nic.Spec.DistributedVirtualPort = nil
	}
	st.nics[i] = nic
}

func (m *netModel) checkRemoveVnic(device string) *soap.Fault {
	if _, ok := m.vnics[device]; !ok {
		return simulator.Fault(fmt.Sprintf("There is no VMkernel adapter %s on %s.", device, m.host.Name), &types.NotFound{})
	}
	delete(m.vnics, device)
	return nil
}

// removeVnic removes an adapter, and with it every service selected on it.
func removeVnic(st *hostVnics, device string) {
	i := st.find(device)
	if i < 0 {
		return
	}
	st.nics = append(st.nics[:i:i], st.nics[i+1:]...)
	for t := range st.selected {
		st.deselect(t, device)
	}
}

// AddVirtualNic creates the next vmk adapter on an existing port group (a standard port group holds at most one
// VMkernel adapter) or on a distributed port; it returns the device.
func (r *netRouter) AddVirtualNic(ctx *simulator.Context, req *types.AddVirtualNic) soap.HasFault {
	body := &methods.AddVirtualNicBody{}
	m, _, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkAddVnic(req.Portgroup, &req.Nic); f != nil {
		body.Fault_ = f
		return body
	}
	device := addVnic(lab.vnics[h.Self], req.Portgroup, req.Nic)
	publishVnics(h)
	body.Res = &types.AddVirtualNicResponse{Returnval: device}
	return body
}

// RemoveVirtualNic removes an adapter, and with it every service selected on it.
func (r *netRouter) RemoveVirtualNic(ctx *simulator.Context, req *types.RemoveVirtualNic) soap.HasFault {
	body := &methods.RemoveVirtualNicBody{}
	m, _, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkRemoveVnic(req.Device); f != nil {
		body.Fault_ = f
		return body
	}
	removeVnic(lab.vnics[h.Self], req.Device)
	publishVnics(h)
	body.Res = &types.RemoveVirtualNicResponse{}
	return body
}

// UpdateVirtualNic changes an adapter's MTU, addresses, MAC, port group or distributed port.
func (r *netRouter) UpdateVirtualNic(ctx *simulator.Context, req *types.UpdateVirtualNic) soap.HasFault {
	body := &methods.UpdateVirtualNicBody{}
	m, _, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkUpdateVnic(req.Device, &req.Nic); f != nil {
		body.Fault_ = f
		return body
	}
	updateVnic(lab.vnics[h.Self], req.Device, req.Nic)
	publishVnics(h)
	body.Res = &types.UpdateVirtualNicResponse{}
	return body
}

func (m *vnicManager) state() (*hostVnics, *simulator.HostSystem) {
	h, ok := simulator.Map.Get(m.host).(*simulator.HostSystem)
	if !ok {
		return nil, nil
	}
	return lab.vnics[h.Self], h
}

func badNicType(t string) *soap.Fault {
	return simulator.Fault(fmt.Sprintf("%q is not a VMkernel service (use one of %s).", t, strings.Join(nicTypes, ", ")),
		&types.InvalidArgument{InvalidProperty: "nicType"})
}

func (m *vnicManager) QueryNetConfig(ctx *simulator.Context, req *types.QueryNetConfig) soap.HasFault {
	body := &methods.QueryNetConfigBody{}
	st, _ := m.state()
	switch {
	case st == nil:
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
	case !validNicType(req.NicType):
		body.Fault_ = badNicType(req.NicType)
	default:
		nc := st.netConfig(req.NicType)
		body.Res = &types.QueryNetConfigResponse{Returnval: &nc}
	}
	return body
}

// request checks a service and an adapter named in a call; a fault when either is unknown.
func (m *vnicManager) request(this types.ManagedObjectReference, nicType, arg string) (*hostVnics, *simulator.HostSystem, string, *soap.Fault) {
	st, h := m.state()
	device := vnicDevice(arg)
	switch {
	case st == nil:
		return nil, nil, "", simulator.Fault("", &types.ManagedObjectNotFound{Obj: this})
	case !validNicType(nicType):
		return nil, nil, "", badNicType(nicType)
	case st.find(device) < 0:
		return nil, nil, "", simulator.Fault(fmt.Sprintf("There is no VMkernel adapter %s on %s.", arg, h.Name),
			&types.InvalidArgument{InvalidProperty: "device"})
	}
	return st, h, device, nil
}

func (m *vnicManager) SelectVnicForNicType(ctx *simulator.Context, req *types.SelectVnicForNicType) soap.HasFault {
	body := &methods.SelectVnicForNicTypeBody{}
	st, h, device, fault := m.request(req.This, req.NicType, req.Device)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	st.selectFor(req.NicType, device)
	publishVnics(h)
	body.Res = &types.SelectVnicForNicTypeResponse{}
	return body
}

func (m *vnicManager) DeselectVnicForNicType(ctx *simulator.Context, req *types.DeselectVnicForNicType) soap.HasFault {
	body := &methods.DeselectVnicForNicTypeBody{}
	st, h, device, fault := m.request(req.This, req.NicType, req.Device)
	switch {
	case fault != nil:
		body.Fault_ = fault
	case !st.deselect(req.NicType, device):
		body.Fault_ = simulator.Fault(fmt.Sprintf("The VMkernel adapter %s on %s is not selected for %s.", device, h.Name, req.NicType),
			&types.InvalidArgument{InvalidProperty: "device"})
	default:
		publishVnics(h)
		body.Res = &types.DeselectVnicForNicTypeResponse{}
	}
	return body
}

func (s *vmotionSystem) state() (*hostVnics, *simulator.HostSystem) {
	h, ok := simulator.Map.Get(s.host).(*simulator.HostSystem)
	if !ok {
		return nil, nil
	}
	return lab.vnics[h.Self], h
}

// SelectVnic is the older, single-adapter way to enable vMotion on an adapter.
func (s *vmotionSystem) SelectVnic(ctx *simulator.Context, req *types.SelectVnic) soap.HasFault {
	body := &methods.SelectVnicBody{}
	st, h := s.state()
	device := vnicDevice(req.Device)
	switch {
	case st == nil:
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
	case st.find(device) < 0:
		body.Fault_ = simulator.Fault(fmt.Sprintf("There is no VMkernel adapter %s on %s.", req.Device, h.Name),
			&types.InvalidArgument{InvalidProperty: "device"})
	default:
		st.selectFor("vmotion", device)
		publishVnics(h)
		body.Res = &types.SelectVnicResponse{}
	}
	return body
}

// DeselectVnic turns the vMotion service off on every adapter.
func (s *vmotionSystem) DeselectVnic(ctx *simulator.Context, req *types.DeselectVnic) soap.HasFault {
	body := &methods.DeselectVnicBody{}
	st, h := s.state()
	if st == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	st.selected["vmotion"] = nil
	publishVnics(h)
	body.Res = &types.DeselectVnicResponse{}
	return body
}
