package main

import (
	"fmt"
	"net"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// HostNetworkSystem.UpdateNetworkConfig and the host's DNS configuration.
//
// "When called in modify mode, only changes that are specified are made. For singleton entities like DnsConfig,
// the state is changed only if the data object is set. For array elements, there is an Operation field that
// indicates if the element should be added, removed, or edited. In the case of editing or removal, the entity
// must exist or an exception is thrown. In the case of adding, a specification needs to be provided. It returns
// device names of vmkernel and service console virtual network adapter added to the system." (API reference,
// HostNetworkSystem.UpdateNetworkConfig, https://github.com/vmware/pyvmomi/blob/master/docs/vim/host/NetworkSystem.rst)
//
// The lab serves modify mode for standard switches, standard port groups, VMkernel adapters, the DNS
// configuration and the TCP/IP stacks' DNS; each entry does what the matching single call does (AddVirtualSwitch,
// UpdatePortGroup, UpdateVirtualNic, ...). Everything else in the config, and replace mode, is answered
// NotSupported naming what the lab does not model. The arrays are applied additions and edits first, removals
// last, so that one call can move a VMkernel adapter off a port group and remove the port group, as Ansible's
// vmware_migrate_vmk does; the whole config is checked before anything changes.

// netModel is a host's standard networking as names, for checking a call before it changes anything.
type netModel struct {
	host     *simulator.HostSystem
	st       *hostVnics
	pnics    []string            // the host's physical adapters
	switches map[string][]string // standard switch -> bridged physical adapters
	pgs      map[string]string   // standard port group -> its switch
	vnics    map[string]string   // VMkernel adapter -> its standard port group ("" on a distributed port)
	proxy    map[string]string   // physical adapter -> the distributed switch whose host proxy switch has it
}

func (r *netRouter) model() (*netModel, *simulator.HostNetworkSystem, *simulator.HostSystem) {
	st, ns, h := r.vnicState()
	if st == nil {
		return nil, nil, nil
	}
	m := &netModel{host: h, st: st, switches: map[string][]string{}, pgs: map[string]string{}, vnics: map[string]string{},
		proxy: map[string]string{}}
	for _, p := range ns.NetworkInfo.Pnic {
		m.pnics = append(m.pnics, p.Device)
	}
	for _, vs := range ns.NetworkInfo.Vswitch {
		nics, _ := bridgeNics(vs.Spec.Bridge)
		m.switches[vs.Name] = nics
	}
	for _, ps := range ns.NetworkInfo.ProxySwitch {
		for _, key := range ps.Pnic {
			m.proxy[strings.TrimPrefix(key, "key-vim.host.PhysicalNic-")] = ps.DvsName
		}
	}
	for _, pg := range ns.NetworkInfo.Portgroup {
		m.pgs[pg.Spec.Name] = pg.Spec.VswitchName
	}
	for _, v := range st.nics {
		m.vnics[v.Device] = v.Portgroup
	}
	return m, ns, h
}

func (m *netModel) hasSwitch(name string) bool {
	_, ok := m.switches[name]
	return ok
}

// portgroupUser names what uses a standard port group on the host: a VMkernel adapter, or a VM with a NIC on
// the Network of that name; "" when nothing does.
func (m *netModel) portgroupUser(pg string) string {
	for dev, p := range m.vnics {
		if p == pg {
			return "VMkernel adapter " + dev
		}
	}
	if net, ok := standardNetwork(m.host, pg); ok {
		for _, ref := range m.host.Vm {
			if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok && usesNetwork(vm, net) {
				return vm.Name
			}
		}
	}
	return ""
}

func notModelled(what string) *soap.Fault {
	return simulator.Fault(what+" is not modelled by the lab.", &types.NotSupported{})
}

// unmodelledParts names the parts of a HostNetworkConfig the lab does not apply.
func unmodelledParts(c *types.HostNetworkConfig) []string {
	var parts []string
	add := func(set bool, name string) {
		if set {
			parts = append(parts, name)
		}
	}
	add(len(c.ProxySwitch) > 0, "proxySwitch")
	add(len(c.Pnic) > 0, "pnic")
	add(len(c.ConsoleVnic) > 0, "consoleVnic")
	add(c.IpRouteConfig != nil, "ipRouteConfig")
	add(c.ConsoleIpRouteConfig != nil, "consoleIpRouteConfig")
	add(c.RouteTableConfig != nil, "routeTableConfig")
	add(len(c.Dhcp) > 0, "dhcp")
	add(len(c.Nat) > 0, "nat")
	add(c.IpV6Enabled != nil, "ipV6Enabled")
	return parts
}

func badOperation(kind, op string) *soap.Fault {
	return simulator.Fault(fmt.Sprintf("%s changeOperation %q: use add, edit or remove (HostConfigChangeOperation).", kind, op),
		&types.InvalidArgument{InvalidProperty: "config." + kind + ".changeOperation"})
}

// vnicPortgroup is the standard port group a HostVirtualNicConfig names: the spec's, else the config's.
func vnicPortgroup(c types.HostVirtualNicConfig) string {
	if c.Spec != nil && c.Spec.Portgroup != "" {
		return c.Spec.Portgroup
	}
	if c.Spec != nil && c.Spec.DistributedVirtualPort != nil {
		return ""
	}
	return c.Portgroup
}

// netStep is one entry of a config: check runs against the model, apply against the host.
type netStep struct {
	check func(m *netModel) *soap.Fault
	apply func() *soap.Fault
}

func (r *netRouter) UpdateNetworkConfig(ctx *simulator.Context, req *types.UpdateNetworkConfig) soap.HasFault {
	body := &methods.UpdateNetworkConfigBody{}
	m, ns, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if req.ChangeMode != string(types.HostConfigChangeModeModify) {
		body.Fault_ = notModelled(fmt.Sprintf("UpdateNetworkConfig in changeMode %q (the lab serves \"modify\")", req.ChangeMode))
		return body
	}
	cfg := &req.Config
	if parts := unmodelledParts(cfg); len(parts) > 0 {
		body.Fault_ = notModelled("UpdateNetworkConfig of " + strings.Join(parts, ", "))
		return body
	}
	st := m.st
	result := types.HostNetworkConfigResult{}
	var adds, removes []netStep
	for _, c := range cfg.Vswitch {
		c := c
		switch c.ChangeOperation {
		case "add":
			adds = append(adds, netStep{func(m *netModel) *soap.Fault { return m.checkAddSwitch(c.Name, c.Spec) },
				func() *soap.Fault { addSwitch(ns, c.Name, c.Spec); return nil }})
		case "edit":
			if c.Spec == nil {
				body.Fault_ = simulator.Fault("Editing a virtual switch needs its spec.", &types.InvalidArgument{InvalidProperty: "config.vswitch.spec"})
				return body
			}
			adds = append(adds, netStep{func(m *netModel) *soap.Fault { return m.checkUpdateSwitch(c.Name, c.Spec) },
				func() *soap.Fault { updateSwitch(ns, c.Name, c.Spec); return nil }})
		case "remove":
			removes = append(removes, netStep{func(m *netModel) *soap.Fault { return m.checkRemoveSwitch(c.Name) },
				func() *soap.Fault { removeSwitch(ctx, ns, h, c.Name); return nil }})
		default:
			body.Fault_ = badOperation("vswitch", c.ChangeOperation)
			return body
		}
	}
	var pgRemoves []netStep
	for _, c := range cfg.Portgroup {
		c := c
		if c.Spec == nil {
			body.Fault_ = simulator.Fault("A port group entry needs its spec.", &types.InvalidArgument{InvalidProperty: "config.portgroup.spec"})
			return body
		}
		name := c.Spec.Name
		switch c.ChangeOperation {
		case "add":
			adds = append(adds, netStep{func(m *netModel) *soap.Fault { return m.checkAddPortgroup(c.Spec) },
				func() *soap.Fault { return addPortgroup(ctx, ns, h, *c.Spec) }})
		case "edit":
			adds = append(adds, netStep{func(m *netModel) *soap.Fault { return m.checkUpdatePortgroup(name, c.Spec) },
				func() *soap.Fault { return updatePortgroup(ctx, ns, h, name, *c.Spec) }})
		case "remove":
			pgRemoves = append(pgRemoves, netStep{func(m *netModel) *soap.Fault { return m.checkRemovePortgroup(name) },
				func() *soap.Fault { removePortgroup(ctx, ns, h, name); return nil }})
		default:
			body.Fault_ = badOperation("portgroup", c.ChangeOperation)
			return body
		}
	}
	var vnicRemoves []netStep
	for _, c := range cfg.Vnic {
		c := c
		switch c.ChangeOperation {
		case "add":
			adds = append(adds, netStep{func(m *netModel) *soap.Fault { return m.checkAddVnic(vnicPortgroup(c), c.Spec) },
				func() *soap.Fault {
					result.VnicDevice = append(result.VnicDevice, addVnic(st, vnicPortgroup(c), *c.Spec))
					return nil
				}})
		case "edit":
			edit := func() types.HostVirtualNicSpec {
				s := types.HostVirtualNicSpec{}
				if c.Spec != nil {
					s = *c.Spec
				}
				if s.DistributedVirtualPort == nil {
					s.Portgroup = vnicPortgroup(c)
				}
				return s
			}
			adds = append(adds, netStep{func(m *netModel) *soap.Fault { s := edit(); return m.checkUpdateVnic(c.Device, &s) },
				func() *soap.Fault { updateVnic(st, c.Device, edit()); return nil }})
		case "remove":
			vnicRemoves = append(vnicRemoves, netStep{func(m *netModel) *soap.Fault { return m.checkRemoveVnic(c.Device) },
				func() *soap.Fault { removeVnic(st, c.Device); return nil }})
		default:
			body.Fault_ = badOperation("vnic", c.ChangeOperation)
			return body
		}
	}
	// removals last, adapters before the port groups they were on, port groups before their switches
	steps := append(append(append(adds, vnicRemoves...), pgRemoves...), removes...)
	if cfg.DnsConfig != nil {
		dns := cfg.DnsConfig
		steps = append(steps, netStep{func(m *netModel) *soap.Fault { return m.checkDNS(dns) },
			func() *soap.Fault { setDNS(h, defaultStack, dns); return nil }})
	}
	for _, s := range cfg.NetStackSpec {
		s := s
		steps = append(steps, netStep{func(m *netModel) *soap.Fault { return m.checkNetStack(s) },
			func() *soap.Fault {
				if s.NetStackInstance.DnsConfig != nil {
					setDNS(h, s.NetStackInstance.Key, s.NetStackInstance.DnsConfig)
				}
				if s.NetStackInstance.IpRouteConfig != nil && s.NetStackInstance.Key != defaultStack {
					setStackGateway(h, s.NetStackInstance.Key, s.NetStackInstance.IpRouteConfig)
				}
				return nil
			}})
	}
	for _, s := range steps {
		if f := s.check(m); f != nil {
			body.Fault_ = f
			return body
		}
	}
	for _, s := range steps {
		if f := s.apply(); f != nil { // only a fault of the simulator package itself gets here
			body.Fault_ = f
			publishVnics(h)
			return body
		}
	}
	publishVnics(h)
	body.Res = &types.UpdateNetworkConfigResponse{Returnval: result}
	return body
}

const defaultStack = "defaultTcpipStack"

// checkDNS follows the faults of UpdateDnsConfig (API reference, HostNetworkSystem.UpdateDnsConfig): NotFound
// "when the DHCP virtual network adapter specified does not exist", InvalidArgument "if any of the IP addresses
// are invalid, or for a DHCP DNS, if the DHCP virtual network adapter is not specified or the virtual network
// adapter specified is not DHCP enabled". HostInDomain needs Active Directory, which the lab does not model.
func (m *netModel) checkDNS(base types.BaseHostDnsConfig) *soap.Fault {
	if spec, ok := base.(*types.HostDnsConfigSpec); ok && (spec.VirtualNicConnection != nil || spec.VirtualNicConnectionV6 != nil) {
		return notModelled("A DNS configuration by virtualNicConnection")
	}
	c := base.GetHostDnsConfig()
	for _, a := range c.Address {
		if net.ParseIP(a) == nil {
			return simulator.Fault(fmt.Sprintf("%q is not an IP address.", a), &types.InvalidArgument{InvalidProperty: "config.address"})
		}
	}
	if !c.Dhcp {
		return nil
	}
	if c.VirtualNicDevice == "" {
		return simulator.Fault("A DHCP DNS configuration names the VMkernel adapter it gets DNS from.",
			&types.InvalidArgument{InvalidProperty: "config.virtualNicDevice"})
	}
	i := m.st.find(c.VirtualNicDevice)
	if i < 0 {
		return simulator.Fault(fmt.Sprintf("There is no VMkernel adapter %s on %s.", c.VirtualNicDevice, m.host.Name), &types.NotFound{})
	}
	if ip := m.st.nics[i].Spec.Ip; ip == nil || !ip.Dhcp {
		return simulator.Fault(fmt.Sprintf("The VMkernel adapter %s on %s does not use DHCP.", c.VirtualNicDevice, m.host.Name),
			&types.InvalidArgument{InvalidProperty: "config.virtualNicDevice"})
	}
	return nil
}

// checkNetStack: an edit of an existing TCP/IP stack instance's DNS configuration, or of the default gateway of a stack other
// than the default one (setStackGateway). "Only edit operation is
// supported currently" (API reference, HostNetworkConfigNetStackSpec.operation,
// https://developer.broadcom.com/xapis/vmware-storage-policy-api/8.0u2/vim.host.NetworkConfig.NetStackSpec.html);
// the stack must exist (NotFound).
// A change to any other setting of the stack is answered as not modelled.
func (m *netModel) checkNetStack(s types.HostNetworkConfigNetStackSpec) *soap.Fault {
	if s.Operation != "edit" {
		return notModelled(fmt.Sprintf("A TCP/IP stack operation %q (ESXi supports only edit)", s.Operation))
	}
	want := s.NetStackInstance
	var cur *types.HostNetStackInstance
	for i := range m.host.Config.Network.NetStackInstance {
		if m.host.Config.Network.NetStackInstance[i].Key == want.Key {
			cur = &m.host.Config.Network.NetStackInstance[i]
		}
	}
	if cur == nil {
		return simulator.Fault(fmt.Sprintf("There is no TCP/IP stack %q on %s.", want.Key, m.host.Name), &types.NotFound{})
	}
	same := func(set bool, equal bool) bool { return !set || equal }
	if !same(want.Name != "", want.Name == cur.Name) ||
		!same(want.RequestedMaxNumberOfConnections != 0, want.RequestedMaxNumberOfConnections == cur.RequestedMaxNumberOfConnections) ||
		!same(want.CongestionControlAlgorithm != "", want.CongestionControlAlgorithm == cur.CongestionControlAlgorithm) ||
		!same(want.IpV6Enabled != nil, reflect.DeepEqual(want.IpV6Enabled, cur.IpV6Enabled)) ||
		!same(want.IpRouteConfig != nil && want.Key == defaultStack, reflect.DeepEqual(want.IpRouteConfig, cur.IpRouteConfig)) ||
		!same(want.RouteTableConfig != nil, reflect.DeepEqual(want.RouteTableConfig, cur.RouteTableConfig)) {
		return notModelled(fmt.Sprintf("A change to the TCP/IP stack %s other than its dnsConfig", want.Key))
	}
	if want.IpRouteConfig != nil && want.Key != defaultStack {
		gw := want.IpRouteConfig.GetHostIpRouteConfig().DefaultGateway
		if gw != "" && net.ParseIP(gw).To4() == nil {
			return simulator.Fault(fmt.Sprintf("%q is not an IPv4 gateway address.", gw),
				&types.InvalidArgument{InvalidProperty: "netStackSpec.netStackInstance.ipRouteConfig.defaultGateway"})
		}
	}
	if want.DnsConfig != nil {
		return m.checkDNS(want.DnsConfig)
	}
	return nil
}

// setStackGateway sets the default gateway of one of the host's other TCP/IP stacks (the vMotion stack has "a
// dedicated default gateway, routing table, and DNS configuration", vSphere Networking, "TCP/IP Stacks at the
// VMkernel Level"). Only the IPv4 default gateway is modelled.
func setStackGateway(h *simulator.HostSystem, stack string, cfg types.BaseHostIpRouteConfig) {
	netInfo := *h.Config.Network
	instances := append([]types.HostNetStackInstance(nil), netInfo.NetStackInstance...)
	for i := range instances {
		if instances[i].Key == stack {
			instances[i].IpRouteConfig = &types.HostIpRouteConfig{DefaultGateway: cfg.GetHostIpRouteConfig().DefaultGateway}
		}
	}
	netInfo.NetStackInstance = instances
	h.Config.Network = &netInfo
	syncHostNetwork(h)
}

// setDNS applies a DNS configuration to one TCP/IP stack of the host. The default stack's is the host's DNS
// configuration, reported in config.network.dnsConfig, networkInfo.dnsConfig and HostNetworkSystem.dnsConfig
// ("For this property in NetworkInfo, Get operation will only return its value of default NetStackInstance",
// API reference, HostNetworkInfo.dnsConfig). "When DHCP is not enabled, the property can be set explicitly. When
// DHCP is enabled, the property reflects the current DNS configuration, but cannot be set" (HostDnsConfig): with
// DHCP the lab, which has no DHCP server, keeps the names and servers the stack had.
func setDNS(h *simulator.HostSystem, stack string, base types.BaseHostDnsConfig) {
	in := *base.GetHostDnsConfig()
	netInfo := *h.Config.Network
	instances := append([]types.HostNetStackInstance(nil), netInfo.NetStackInstance...) // the template's are shared
	for i := range instances {
		if instances[i].Key != stack {
			continue
		}
		cur := types.HostDnsConfig{}
		if instances[i].DnsConfig != nil {
			cur = *instances[i].DnsConfig.GetHostDnsConfig()
		}
		dns := types.HostDnsConfig{Dhcp: in.Dhcp, VirtualNicDevice: in.VirtualNicDevice, Ipv6VirtualNicDevice: in.Ipv6VirtualNicDevice,
			HostName: in.HostName, DomainName: in.DomainName, Address: append([]string(nil), in.Address...),
			SearchDomain: append([]string(nil), in.SearchDomain...)}
		if in.Dhcp {
			dns.HostName, dns.DomainName = cur.HostName, cur.DomainName
			dns.Address, dns.SearchDomain = append([]string(nil), cur.Address...), append([]string(nil), cur.SearchDomain...)
		}
		instances[i].DnsConfig = &dns
		if stack == defaultStack {
			top := dns
			netInfo.DnsConfig = &top
		}
	}
	netInfo.NetStackInstance = instances
	h.Config.Network = &netInfo
	syncHostNetwork(h)
}

// UpdateDnsConfig applies the host's DNS configuration (API reference, HostNetworkSystem.UpdateDnsConfig): the
// same state UpdateNetworkConfig changes through config.dnsConfig or the default TCP/IP stack.
func (r *netRouter) UpdateDnsConfig(ctx *simulator.Context, req *types.UpdateDnsConfig) soap.HasFault {
	body := &methods.UpdateDnsConfigBody{}
	m, _, h := r.model()
	if m == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	if req.Config == nil {
		body.Fault_ = simulator.Fault("UpdateDnsConfig needs a config.", &types.InvalidArgument{InvalidProperty: "config"})
		return body
	}
	if f := m.checkDNS(req.Config); f != nil {
		body.Fault_ = f
		return body
	}
	setDNS(h, defaultStack, req.Config)
	body.Res = &types.UpdateDnsConfigResponse{}
	return body
}
