package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Standard switches and the host's view of its network. ESXi reports a host's
// switches, port groups and VMkernel adapters twice: in the HostNetworkSystem's
// networkInfo and in the HostSystem's config.network. The simulator keeps only
// the first, so every change the lab makes is copied to the second here. A
// switch carries its MTU (1500 unless set); jumbo frames need it raised on
// the switch as well as on the VMkernel adapter.

const defaultMTU = 1500

// A new switch's port count when the spec gives none: "When you create a VSS you have an option to define the
// number of virtual ports on that specific virtual switch (default is 128)" (VMware vSphere Blog, "Demystifying
// Configuration Maximums for VSS and VDS", https://blogs.vmware.com/vsphere/2012/04/demystifying-configuration-maximums-for-vss-and-vds.html).
const defaultSwitchPorts = 128

// "The maximum value is 1024" (API reference, HostVirtualSwitchSpec.numPorts,
// https://developer.broadcom.com/xapis/vsphere-web-services-api/8.0U3/vim.host.VirtualSwitch.Specification.html).
const maxSwitchPorts = 1024

// "The name must be unique with respect to other virtual switches on the host and is limited to 32 characters"
// (API reference, HostNetworkSystem.AddVirtualSwitch, https://github.com/vmware/pyvmomi/blob/master/docs/vim/host/NetworkSystem.rst).
const maxSwitchName = 32

// teamingPolicies are the values HostNicTeamingPolicy.policy may take (API reference, HostNicTeamingPolicy,
// https://developer.broadcom.com/xapis/virtual-infrastructure-json-api/latest/data-structures/HostNicTeamingPolicy).
var teamingPolicies = []string{"loadbalance_ip", "loadbalance_srcmac", "loadbalance_srcid", "failover_explicit"}

func switchKey(name string) string { return "key-vim.host.VirtualSwitch-" + name }
func pnicKey(device string) string { return "key-vim.host.PhysicalNic-" + device }

// defaultSwitchPolicy is the policy a new standard switch gets for whatever its spec leaves unset. "If the policy
// property is not set and you are creating a virtual switch, then a default policy property setting is used"
// (API reference, HostVirtualSwitchSpec.policy), and a switch "always" has a value for every setting the host
// implements (API reference, HostNetworkPolicy,
// https://developer.broadcom.com/xapis/virtual-infrastructure-json-api/latest/data-structures/HostNetworkPolicy).
func defaultSwitchPolicy(nics []string) types.HostNetworkPolicy {
	no, yes := false, true
	b := func(v bool) *bool { return &v }
	return types.HostNetworkPolicy{
		// Installation defaults of a standard switch: promiscuous mode Reject, MAC address changes Accept, forged
		// transmits Accept (vSphere 8 Security Configuration Guide, controls esxi-8.network-reject-*-standardswitch,
		// https://github.com/vmware/vcf-security-and-compliance-guidelines/blob/main/security-configuration-hardening-guide/vsphere/8.0/vmware-vsphere-security-configuration-guide-8-controls.csv).
		Security: &types.HostNetworkSecurityPolicy{AllowPromiscuous: b(no), MacChanges: b(yes), ForgedTransmits: b(yes)},
		NicTeaming: &types.HostNicTeamingPolicy{
			// "Route Based on Originating Virtual Port is the default load balancing method on the vSphere
			// Standard Switch" (vSphere 6.7 Networking, https://docs.vmware.com/en/VMware-vSphere/6.7/com.vmware.vsphere.networking.doc/GUID-A4F1BF4B-8199-45A1-9578-1E4B6B08DAB0.html);
			// loadbalance_srcid is "route based on the source of the port ID" (API reference, HostNicTeamingPolicy).
			Policy: "loadbalance_srcid",
			// "Deprecated as of VI API 5.1, the system default (true) will be used" (HostNicTeamingPolicy.reversePolicy).
			ReversePolicy: b(yes),
			// Notify switches Yes and failback Yes are the defaults (vSphere 6.0 Networking, "Edit Teaming and
			// Failover Policy", http://38.142.81.21:8001/manual/vmware/vsphere/6-0-english/page-116.html, and
			// vSphere 6.5.1 Networking, page 107: "If failback is set to Yes, the default selection"); failback
			// Yes is rollingOrder false (HostNicTeamingPolicy.rollingOrder).
			NotifySwitches: b(yes),
			RollingOrder:   b(no),
			// Failure detection "Link status only", not beacon probing (vSphere 6.5.1 Networking, page 98,
			// "Network Failure Detection Policy"). checkSpeed, speed, checkDuplex, fullDuplex, checkErrorPercent
			// and percentage are "not supported" since API 5.1 (HostNicFailureCriteria); the values below are
			// what the ESXi host recorded in the engine (simulator/esx/host_config_info.go) reports for them.
			FailureCriteria: &types.HostNicFailureCriteria{CheckSpeed: "minimum", Speed: 10, CheckDuplex: b(no),
				FullDuplex: b(no), CheckErrorPercent: b(no), CheckBeacon: b(no)},
			// "For a virtual switch, the NicOrderPolicy property is never null when retrieved from the server.
			// When creating a new virtual switch ... the NicOrderPolicy can be null, in which case the default
			// NicOrderPolicy from the server will be used" (API reference, HostNicOrderPolicy). The lab's default
			// makes the bridged adapters active, as the recorded ESXi host's vSwitch0 has its vmnic0.
			NicOrder: &types.HostNicOrderPolicy{ActiveNic: append([]string{}, nics...)},
		},
		// "Deprecated. As of VI API 4.0, the system defaults will be used" (API reference,
		// HostNetOffloadCapabilities); the values are those the recorded ESXi host reports.
		OffloadPolicy: &types.HostNetOffloadCapabilities{CsumOffload: b(yes), TcpSegmentation: b(yes), ZeroCopyXmit: b(yes)},
		// Traffic shaping is off until set ("Traffic shaping is disabled by default",
		// https://geek-university.com/vmware-esxi/switch-traffic-shaping-policies/; vSphere 5.1 Networking: "If you
		// disable the policy, services have a free, clear connection to the physical network by default").
		ShapingPolicy: &types.HostNetworkTrafficShapingPolicy{Enabled: b(no)},
	}
}

func copyBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// copyPolicy is a deep copy: the engine's host template shares its policy objects between hosts.
func copyPolicy(p types.HostNetworkPolicy) types.HostNetworkPolicy {
	var c types.HostNetworkPolicy
	if s := p.Security; s != nil {
		c.Security = &types.HostNetworkSecurityPolicy{AllowPromiscuous: copyBool(s.AllowPromiscuous),
			MacChanges: copyBool(s.MacChanges), ForgedTransmits: copyBool(s.ForgedTransmits)}
	}
	if t := p.NicTeaming; t != nil {
		n := &types.HostNicTeamingPolicy{Policy: t.Policy, ReversePolicy: copyBool(t.ReversePolicy),
			NotifySwitches: copyBool(t.NotifySwitches), RollingOrder: copyBool(t.RollingOrder)}
		if f := t.FailureCriteria; f != nil {
			n.FailureCriteria = &types.HostNicFailureCriteria{CheckSpeed: f.CheckSpeed, Speed: f.Speed,
				CheckDuplex: copyBool(f.CheckDuplex), FullDuplex: copyBool(f.FullDuplex),
				CheckErrorPercent: copyBool(f.CheckErrorPercent), Percentage: f.Percentage, CheckBeacon: copyBool(f.CheckBeacon)}
		}
		if o := t.NicOrder; o != nil {
			n.NicOrder = &types.HostNicOrderPolicy{ActiveNic: append([]string{}, o.ActiveNic...),
				StandbyNic: append([]string(nil), o.StandbyNic...)}
		}
		c.NicTeaming = n
	}
	if o := p.OffloadPolicy; o != nil {
		c.OffloadPolicy = &types.HostNetOffloadCapabilities{CsumOffload: copyBool(o.CsumOffload),
			TcpSegmentation: copyBool(o.TcpSegmentation), ZeroCopyXmit: copyBool(o.ZeroCopyXmit)}
	}
	if s := p.ShapingPolicy; s != nil {
		c.ShapingPolicy = &types.HostNetworkTrafficShapingPolicy{Enabled: copyBool(s.Enabled),
			AverageBandwidth: s.AverageBandwidth, PeakBandwidth: s.PeakBandwidth, BurstSize: s.BurstSize}
	}
	return c
}

func pickBool(over, base *bool) *bool {
	if over != nil {
		return copyBool(over)
	}
	return copyBool(base)
}

func pickString(over, base string) string {
	if over != "" {
		return over
	}
	return base
}

func pickInt32(over, base int32) int32 {
	if over != 0 {
		return over
	}
	return base
}

func pickInt64(over, base int64) int64 {
	if over != 0 {
		return over
	}
	return base
}

// overlayPolicy is base with every setting that over sets replaced: how a port group's policy applies over its
// switch's ("These policy settings are inherited if the settings on the port group are not set", API reference,
// HostNetworkPolicy), giving HostPortGroup.computedPolicy; and how a spec's settings apply over a switch's
// defaults or current policy.
func overlayPolicy(base, over types.HostNetworkPolicy) types.HostNetworkPolicy {
	c := copyPolicy(base)
	if s := over.Security; s != nil {
		if c.Security == nil {
			c.Security = &types.HostNetworkSecurityPolicy{}
		}
		c.Security.AllowPromiscuous = pickBool(s.AllowPromiscuous, c.Security.AllowPromiscuous)
		c.Security.MacChanges = pickBool(s.MacChanges, c.Security.MacChanges)
		c.Security.ForgedTransmits = pickBool(s.ForgedTransmits, c.Security.ForgedTransmits)
	}
	if t := over.NicTeaming; t != nil {
		if c.NicTeaming == nil {
			c.NicTeaming = &types.HostNicTeamingPolicy{}
		}
		n := c.NicTeaming
		n.Policy = pickString(t.Policy, n.Policy)
		n.ReversePolicy = pickBool(t.ReversePolicy, n.ReversePolicy)
		n.NotifySwitches = pickBool(t.NotifySwitches, n.NotifySwitches)
		n.RollingOrder = pickBool(t.RollingOrder, n.RollingOrder)
		if f := t.FailureCriteria; f != nil {
			if n.FailureCriteria == nil {
				n.FailureCriteria = &types.HostNicFailureCriteria{}
			}
			g := n.FailureCriteria
			g.CheckSpeed = pickString(f.CheckSpeed, g.CheckSpeed)
			g.Speed = pickInt32(f.Speed, g.Speed)
			g.CheckDuplex = pickBool(f.CheckDuplex, g.CheckDuplex)
			g.FullDuplex = pickBool(f.FullDuplex, g.FullDuplex)
			g.CheckErrorPercent = pickBool(f.CheckErrorPercent, g.CheckErrorPercent)
			g.Percentage = pickInt32(f.Percentage, g.Percentage)
			g.CheckBeacon = pickBool(f.CheckBeacon, g.CheckBeacon)
		}
		if o := t.NicOrder; o != nil { // "the NicOrderPolicy property defined in the portgroup takes precedence"
			n.NicOrder = &types.HostNicOrderPolicy{ActiveNic: append([]string{}, o.ActiveNic...),
				StandbyNic: append([]string(nil), o.StandbyNic...)}
		}
	}
	if o := over.OffloadPolicy; o != nil {
		if c.OffloadPolicy == nil {
			c.OffloadPolicy = &types.HostNetOffloadCapabilities{}
		}
		c.OffloadPolicy.CsumOffload = pickBool(o.CsumOffload, c.OffloadPolicy.CsumOffload)
		c.OffloadPolicy.TcpSegmentation = pickBool(o.TcpSegmentation, c.OffloadPolicy.TcpSegmentation)
		c.OffloadPolicy.ZeroCopyXmit = pickBool(o.ZeroCopyXmit, c.OffloadPolicy.ZeroCopyXmit)
	}
	if s := over.ShapingPolicy; s != nil {
		if c.ShapingPolicy == nil {
			c.ShapingPolicy = &types.HostNetworkTrafficShapingPolicy{}
		}
		c.ShapingPolicy.Enabled = pickBool(s.Enabled, c.ShapingPolicy.Enabled)
		c.ShapingPolicy.AverageBandwidth = pickInt64(s.AverageBandwidth, c.ShapingPolicy.AverageBandwidth)
		c.ShapingPolicy.PeakBandwidth = pickInt64(s.PeakBandwidth, c.ShapingPolicy.PeakBandwidth)
		c.ShapingPolicy.BurstSize = pickInt64(s.BurstSize, c.ShapingPolicy.BurstSize)
	}
	return c
}

// portgroupPolicy is a port group's own policy as ESXi reports it: every policy group the host implements is
// present, its unset settings meaning "inherit from the switch". "If a host does not support a policy group, the
// policy group is not set on both the virtual switches and the port groups" (API reference, HostNetworkPolicy);
// the recorded ESXi host's "VM Network" reports empty security, nicTeaming (with failureCriteria), offload and
// shaping objects. A null nicOrder "means the portgroup inherits the policy from its parent" (HostNicOrderPolicy).
func portgroupPolicy(p types.HostNetworkPolicy) types.HostNetworkPolicy {
	c := copyPolicy(p)
	if c.Security == nil {
		c.Security = &types.HostNetworkSecurityPolicy{}
	}
	if c.NicTeaming == nil {
		c.NicTeaming = &types.HostNicTeamingPolicy{}
	}
	if c.NicTeaming.FailureCriteria == nil {
		c.NicTeaming.FailureCriteria = &types.HostNicFailureCriteria{}
	}
	if c.OffloadPolicy == nil {
		c.OffloadPolicy = &types.HostNetOffloadCapabilities{}
	}
	if c.ShapingPolicy == nil {
		c.ShapingPolicy = &types.HostNetworkTrafficShapingPolicy{}
	}
	return c
}

// checkPolicy answers InvalidArgument for a policy ESXi refuses: "the network policy is invalid" (API reference,
// AddVirtualSwitch, UpdateVirtualSwitch, AddPortGroup, UpdatePortGroup). The lab knows two rules: the teaming
// policy is one of the four documented values, and an adapter "cannot be in both lists" (HostNicOrderPolicy).
func checkPolicy(p *types.HostNetworkPolicy, prop string) *soap.Fault {
	if p == nil || p.NicTeaming == nil {
		return nil
	}
	if t := p.NicTeaming.Policy; t != "" && !containsString(teamingPolicies, t) {
		return simulator.Fault(fmt.Sprintf("%q is not a NIC teaming policy (use one of %v).", t, teamingPolicies),
			&types.InvalidArgument{InvalidProperty: prop + ".nicTeaming.policy"})
	}
	if o := p.NicTeaming.NicOrder; o != nil {
		for _, n := range o.ActiveNic {
			if containsString(o.StandbyNic, n) {
				return simulator.Fault(fmt.Sprintf("The physical adapter %s cannot be both active and standby.", n),
					&types.InvalidArgument{InvalidProperty: prop + ".nicTeaming.nicOrder"})
			}
		}
	}
	return nil
}

// bridgeNics lists the physical adapters a switch spec bridges. "The BondBridge configuration is the only valid
// bridge configuration for an ESX Server system" (API reference, UpdateVirtualSwitch): ok is false for another.
func bridgeNics(b types.BaseHostVirtualSwitchBridge) (nics []string, ok bool) {
	if b == nil {
		return nil, true
	}
	bond, isBond := b.(*types.HostVirtualSwitchBondBridge)
	if !isBond {
		return nil, false
	}
	return append([]string(nil), bond.NicDevice...), true
}

func copyBridge(b types.BaseHostVirtualSwitchBridge) types.BaseHostVirtualSwitchBridge {
	bond, ok := b.(*types.HostVirtualSwitchBondBridge)
	if !ok || bond == nil {
		return nil
	}
	c := *bond
	c.NicDevice = append([]string(nil), bond.NicDevice...)
	if bond.Beacon != nil {
		beacon := *bond.Beacon
		c.Beacon = &beacon
	}
	if bond.LinkDiscoveryProtocolConfig != nil {
		ldp := *bond.LinkDiscoveryProtocolConfig
		c.LinkDiscoveryProtocolConfig = &ldp
	}
	return &c
}

// completeNetworkInfo fills in what the simulator's network system leaves out. Its vSwitch0 has no spec: the
// host's recorded config.network (still the engine's ESXi template before the first sync) has it, with its
// uplink vmnic0, port count and policy, and so does every real host. Any other switch without a policy gets the
// default one. Port groups get their own copies (the template shares them between hosts), the key of their
// switch, their policy groups and their computed policy.
func completeNetworkInfo(h *simulator.HostSystem, info *types.HostNetworkInfo) {
	for i := range info.Vswitch {
		vs := &info.Vswitch[i]
		if vs.Spec.Policy == nil {
			for _, rec := range h.Config.Network.Vswitch {
				if rec.Name == vs.Name && rec.Spec.Policy != nil {
					p := copyPolicy(*rec.Spec.Policy)
					vs.Spec.Policy = &p
					vs.Spec.Bridge = copyBridge(rec.Spec.Bridge)
					vs.Spec.NumPorts = rec.Spec.NumPorts
					vs.NumPorts, vs.NumPortsAvailable = rec.NumPorts, rec.NumPortsAvailable
					vs.Pnic = append([]string(nil), rec.Pnic...)
					if rec.Mtu != 0 && vs.Mtu == 0 {
						vs.Mtu = rec.Mtu
					}
				}
			}
		}
		if vs.Spec.Policy == nil {
			nics, _ := bridgeNics(vs.Spec.Bridge)
			p := defaultSwitchPolicy(nics)
			vs.Spec.Policy = &p
		}
		if vs.Mtu == 0 {
			vs.Mtu = defaultMTU
		}
		if vs.Spec.Mtu == 0 {
			vs.Spec.Mtu = vs.Mtu
		}
		if vs.Key == "" {
			vs.Key = switchKey(vs.Name)
		}
	}
	pgs := make([]types.HostPortGroup, 0, len(info.Portgroup))
	for _, pg := range info.Portgroup {
		pg.Spec.Policy = portgroupPolicy(pg.Spec.Policy)
		pg.Port = append([]types.HostPortGroupPort(nil), pg.Port...)
		pg.Vswitch = switchKey(pg.Spec.VswitchName)
		pg.ComputedPolicy = pg.Spec.Policy
		for _, vs := range info.Vswitch {
			if vs.Name == pg.Spec.VswitchName && vs.Spec.Policy != nil {
				pg.ComputedPolicy = overlayPolicy(*vs.Spec.Policy, pg.Spec.Policy)
			}
		}
		pgs = append(pgs, pg)
	}
	info.Portgroup = pgs
}

// syncHostNetwork copies the network system's switches, port groups and adapters into the host's
// config.network, and the host's DNS configuration and TCP/IP stacks into the network system (networkInfo and
// dnsConfig): both report the same host.
func syncHostNetwork(h *simulator.HostSystem) {
	if h.ConfigManager.NetworkSystem == nil || h.Config == nil || h.Config.Network == nil {
		return
	}
	ns, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
	if !ok || ns.NetworkInfo == nil {
		return
	}
	completeNetworkInfo(h, ns.NetworkInfo)
	for i := range ns.NetworkInfo.Vnic {
		if ns.NetworkInfo.Vnic[i].Spec.NetStackInstanceKey == "" {
			// "defaultTcpipStack" when unset (API reference, HostVirtualNicSpec.netStackInstanceKey)
			ns.NetworkInfo.Vnic[i].Spec.NetStackInstanceKey = "defaultTcpipStack"
		}
	}
	if len(ns.NetworkInfo.Pnic) == 0 {
		ns.NetworkInfo.Pnic = append([]types.PhysicalNic(nil), h.Config.Network.Pnic...)
	}
	net := *h.Config.Network
	net.Vswitch = append([]types.HostVirtualSwitch(nil), ns.NetworkInfo.Vswitch...)
	net.Portgroup = append([]types.HostPortGroup(nil), ns.NetworkInfo.Portgroup...)
	net.Vnic = append([]types.HostVirtualNic(nil), ns.NetworkInfo.Vnic...)
	h.Config.Network = &net
	ns.NetworkInfo.DnsConfig = net.DnsConfig
	ns.NetworkInfo.NetStackInstance = append([]types.HostNetStackInstance(nil), net.NetStackInstance...)
	ns.DnsConfig = net.DnsConfig
	ns.NetworkConfig = networkConfig(ns.NetworkInfo)
	simulator.Map.Update(ns, []types.PropertyChange{{Name: "networkInfo", Val: ns.NetworkInfo},
		{Name: "networkConfig", Val: ns.NetworkConfig}, {Name: "dnsConfig", Val: ns.DnsConfig}})
	simulator.Map.Update(h, []types.PropertyChange{{Name: "config.network", Val: h.Config.Network}})
}

// networkConfig is a host's network configuration as HostNetworkSystem.networkConfig reports it: "a strict
// subset of the information available in NetworkInfo" (API reference, HostNetworkConfig), its switches, port
// groups, physical NICs and VMkernel adapters. The simulator package left it unset until a client wrote one.
func networkConfig(info *types.HostNetworkInfo) *types.HostNetworkConfig {
	c := &types.HostNetworkConfig{}
	for i := range info.Vswitch {
		spec := info.Vswitch[i].Spec
		c.Vswitch = append(c.Vswitch, types.HostVirtualSwitchConfig{Name: info.Vswitch[i].Name, Spec: &spec})
	}
	for i := range info.Portgroup {
		spec := info.Portgroup[i].Spec
		c.Portgroup = append(c.Portgroup, types.HostPortGroupConfig{Spec: &spec})
	}
	for _, p := range info.Pnic {
		c.Pnic = append(c.Pnic, types.PhysicalNicConfig{Device: p.Device, Spec: p.Spec})
	}
	for i := range info.Vnic {
		spec := info.Vnic[i].Spec
		c.Vnic = append(c.Vnic, types.HostVirtualNicConfig{Device: info.Vnic[i].Device, Portgroup: info.Vnic[i].Portgroup,
			Spec: &spec})
	}
	return c
}

// checkSwitchSpec checks what AddVirtualSwitch and UpdateVirtualSwitch refuse whatever the host's state:
// InvalidArgument "if ... the number of ports specified falls out of valid range, or the network policy is
// invalid", or the bridge is not a BondBridge (API reference, HostNetworkSystem), and the lab's MTU range.
func checkSwitchSpec(spec *types.HostVirtualSwitchSpec) *soap.Fault {
	if spec == nil {
		return nil
	}
	if mtu := spec.Mtu; mtu != 0 && (mtu < 1280 || mtu > 9000) {
		return simulator.Fault(fmt.Sprintf("An MTU of %d is outside 1280 to 9000.", mtu),
			&types.InvalidArgument{InvalidProperty: "spec.mtu"})
	}
	if n := spec.NumPorts; n < 0 || n > maxSwitchPorts {
		return simulator.Fault(fmt.Sprintf("A standard switch has at most %d ports, not %d.", maxSwitchPorts, n),
			&types.InvalidArgument{InvalidProperty: "spec.numPorts"})
	}
	if _, ok := bridgeNics(spec.Bridge); !ok {
		return simulator.Fault("A standard switch on ESXi takes a HostVirtualSwitchBondBridge.",
			&types.InvalidArgument{InvalidProperty: "spec.bridge"})
	}
	return checkPolicy(spec.Policy, "spec.policy")
}

// checkBridge: every bridged adapter exists (InvalidArgument, "the bridge parameter is bad") and is bridged to
// no other switch, standard or distributed (ResourceInUse, "if the physical network adapter being bridged is
// already in use").
func (m *netModel) checkBridge(vswitch string, spec *types.HostVirtualSwitchSpec) *soap.Fault {
	if spec == nil {
		return nil
	}
	nics, _ := bridgeNics(spec.Bridge)
	for _, n := range nics {
		if !containsString(m.pnics, n) {
			return simulator.Fault(fmt.Sprintf("%s has no physical adapter %s.", m.host.Name, n),
				&types.InvalidArgument{InvalidProperty: "spec.bridge.nicDevice"})
		}
		if dvs := m.proxy[n]; dvs != "" {
			return simulator.Fault(fmt.Sprintf("The physical adapter %s on %s is an uplink of the distributed switch %s.", n, m.host.Name, dvs),
				&types.ResourceInUse{Type: "PhysicalNic", Name: n})
		}
		for other, used := range m.switches {
			if other != vswitch && containsString(used, n) {
				return simulator.Fault(fmt.Sprintf("The physical adapter %s on %s is in use by %s.", n, m.host.Name, other),
					&types.ResourceInUse{Type: "PhysicalNic", Name: n})
			}
		}
	}
	return nil
}

func (m *netModel) checkAddSwitch(name string, spec *types.HostVirtualSwitchSpec) *soap.Fault {
	switch {
	case name == "" || len(name) > maxSwitchName:
		return simulator.Fault(fmt.Sprintf("A standard switch name has 1 to %d characters.", maxSwitchName),
			&types.InvalidArgument{InvalidProperty: "vswitchName"})
	case m.hasSwitch(name):
		return simulator.Fault(fmt.Sprintf("The virtual switch %s already exists on %s.", name, m.host.Name),
			&types.AlreadyExists{Name: name})
	}
	if f := checkSwitchSpec(spec); f != nil {
		return f
	}
	if f := m.checkBridge(name, spec); f != nil {
		return f
	}
	nics := []string{}
	if spec != nil {
		nics, _ = bridgeNics(spec.Bridge)
	}
	m.switches[name] = nics
	return nil
}

func (m *netModel) checkUpdateSwitch(name string, spec *types.HostVirtualSwitchSpec) *soap.Fault {
	if !m.hasSwitch(name) {
		return simulator.Fault(fmt.Sprintf("There is no virtual switch %s on %s.", name, m.host.Name), &types.NotFound{})
	}
	if f := checkSwitchSpec(spec); f != nil {
		return f
	}
	if f := m.checkBridge(name, spec); f != nil {
		return f
	}
	m.switches[name], _ = bridgeNics(spec.Bridge)
	return nil
}

// checkRemoveSwitch: NotFound, or ResourceInUse "if there are virtual network adapters associated with the
// virtual switch" (API reference, RemoveVirtualSwitch): a VMkernel adapter or a VM's NIC on one of its port
// groups. The switch's port groups go with it.
func (m *netModel) checkRemoveSwitch(name string) *soap.Fault {
	if !m.hasSwitch(name) {
		return simulator.Fault(fmt.Sprintf("There is no virtual switch %s on %s.", name, m.host.Name), &types.NotFound{})
	}
	for pg, vs := range m.pgs {
		if vs != name {
			continue
		}
		if user := m.portgroupUser(pg); user != "" {
			return simulator.Fault(fmt.Sprintf("The virtual switch %s on %s is in use: %s is on its port group %s.", name, m.host.Name, user, pg),
				&types.ResourceInUse{Type: "HostVirtualSwitch", Name: name})
		}
	}
	for pg, vs := range m.pgs {
		if vs == name {
			delete(m.pgs, pg)
		}
	}
	delete(m.switches, name)
	return nil
}

// addSwitch creates the switch: the spec's settings over the default policy, MTU 1500 and 128 ports unless set,
// its bridged adapters as uplinks (HostVirtualSwitch.pnic).
func addSwitch(ns *simulator.HostNetworkSystem, name string, spec *types.HostVirtualSwitchSpec) {
	s := types.HostVirtualSwitchSpec{}
	if spec != nil {
		s = *spec
	}
	nics, _ := bridgeNics(s.Bridge)
	policy := defaultSwitchPolicy(nics)
	if s.Policy != nil {
		policy = overlayPolicy(policy, *s.Policy)
	}
	s.Policy = &policy
	s.Bridge = copyBridge(s.Bridge)
	if s.Mtu == 0 {
		s.Mtu = defaultMTU
	}
	if s.NumPorts == 0 {
		s.NumPorts = defaultSwitchPorts
	}
	vs := types.HostVirtualSwitch{Name: name, Key: switchKey(name), NumPorts: s.NumPorts, Mtu: s.Mtu, Spec: s}
	for _, n := range nics {
		vs.Pnic = append(vs.Pnic, pnicKey(n))
	}
	ns.NetworkInfo.Vswitch = append(ns.NetworkInfo.Vswitch, vs)
}

// updateSwitch applies a spec to a switch. "If the bridge is NULL, the configuration will be unset ... If a
// network adapter is removed from the bridge configuration, then the network adapter is removed from the network
// adapter teaming order" (API reference, UpdateVirtualSwitch); "If the policy property is not set and you are
// updating a virtual switch, then the policy will be unchanged" (HostVirtualSwitchSpec.policy). A changed port
// count "does not take effect until the next reboot" (HostVirtualSwitchSpec.numPorts): only the spec shows it.
func updateSwitch(ns *simulator.HostNetworkSystem, name string, spec *types.HostVirtualSwitchSpec) {
	for i := range ns.NetworkInfo.Vswitch {
		vs := &ns.NetworkInfo.Vswitch[i]
		if vs.Name != name {
			continue
		}
		if spec.Mtu != 0 {
			vs.Mtu, vs.Spec.Mtu = spec.Mtu, spec.Mtu
		}
		if spec.NumPorts != 0 {
			vs.Spec.NumPorts = spec.NumPorts
		}
		if spec.Policy != nil {
			p := overlayPolicy(*vs.Spec.Policy, *spec.Policy)
			vs.Spec.Policy = &p
		}
		nics, _ := bridgeNics(spec.Bridge)
		vs.Spec.Bridge = copyBridge(spec.Bridge)
		vs.Pnic = nil
		for _, n := range nics {
			vs.Pnic = append(vs.Pnic, pnicKey(n))
		}
		if t := vs.Spec.Policy.NicTeaming; t != nil && t.NicOrder != nil {
			t.NicOrder.ActiveNic = keepOnly(t.NicOrder.ActiveNic, nics)
			t.NicOrder.StandbyNic = keepOnly(t.NicOrder.StandbyNic, nics)
			if t.NicOrder.ActiveNic == nil {
				t.NicOrder.ActiveNic = []string{}
			}
		}
	}
}

func keepOnly(list, allowed []string) []string {
	var out []string
	for _, v := range list {
		if containsString(allowed, v) {
			out = append(out, v)
		}
	}
	return out
}

// removeSwitch removes the switch and its port groups (their Networks leave the host).
func removeSwitch(ctx *simulator.Context, ns *simulator.HostNetworkSystem, h *simulator.HostSystem, name string) {
	var names []string
	for _, pg := range ns.NetworkInfo.Portgroup {
		if pg.Spec.VswitchName == name {
			names = append(names, pg.Spec.Name)
		}
	}
	for _, pg := range names {
		removePortgroup(ctx, ns, h, pg)
	}
	var keep []types.HostVirtualSwitch
	for _, vs := range ns.NetworkInfo.Vswitch {
		if vs.Name != name {
			keep = append(keep, vs)
		}
	}
	ns.NetworkInfo.Vswitch = keep
}

// AddVirtualSwitch adds a standard switch (API reference, HostNetworkSystem.AddVirtualSwitch): AlreadyExists,
// ResourceInUse (a bridged adapter belongs to another switch), InvalidArgument (name, port count, MTU, policy,
// bridge).
func (r *netRouter) AddVirtualSwitch(ctx *simulator.Context, req *types.AddVirtualSwitch) soap.HasFault {
	body := &methods.AddVirtualSwitchBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkAddSwitch(req.VswitchName, req.Spec); f != nil {
		body.Fault_ = f
		return body
	}
	addSwitch(ns, req.VswitchName, req.Spec)
	syncHostNetwork(h)
	body.Res = &types.AddVirtualSwitchResponse{}
	return body
}

// RemoveVirtualSwitch removes a standard switch and its port groups: NotFound, ResourceInUse (API reference,
// HostNetworkSystem.RemoveVirtualSwitch).
func (r *netRouter) RemoveVirtualSwitch(ctx *simulator.Context, req *types.RemoveVirtualSwitch) soap.HasFault {
	body := &methods.RemoveVirtualSwitchBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkRemoveSwitch(req.VswitchName); f != nil {
		body.Fault_ = f
		return body
	}
	removeSwitch(ctx, ns, h, req.VswitchName)
	syncHostNetwork(h)
	body.Res = &types.RemoveVirtualSwitchResponse{}
	return body
}

// UpdateVirtualSwitch applies a spec to a standard switch (see updateSwitch): NotFound for an unknown switch,
// ResourceInUse and InvalidArgument as AddVirtualSwitch.
func (r *netRouter) UpdateVirtualSwitch(ctx *simulator.Context, req *types.UpdateVirtualSwitch) soap.HasFault {
	body := &methods.UpdateVirtualSwitchBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if f := m.checkUpdateSwitch(req.VswitchName, &req.Spec); f != nil {
		body.Fault_ = f
		return body
	}
	updateSwitch(ns, req.VswitchName, &req.Spec)
	syncHostNetwork(h)
	body.Res = &types.UpdateVirtualSwitchResponse{}
	return body
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
