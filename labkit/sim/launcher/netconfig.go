package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A HostNetworkSystem call is checked against a model of the host's standard networking before it changes
// anything.

// netModel is a host's standard networking as names, for checking a call before it changes anything.
type netModel struct {
	host     *simulator.HostSystem
	st       *hostVnics
	pnics    []string            // the host's physical adapters
	switches map[string][]string // standard switch -> bridged physical adapters
	pgs      map[string]string   // standard port group -> its switch
	vnics    map[string]string   // VMkernel adapter -> its standard port group ("" on a distributed port)
}

func (r *netRouter) model() (*netModel, *simulator.HostNetworkSystem, *simulator.HostSystem) {
	st, ns, h := r.vnicState()
	if st == nil {
		return nil, nil, nil
	}
	m := &netModel{host: h, st: st, switches: map[string][]string{}, pgs: map[string]string{}, vnics: map[string]string{}}
	for _, p := range ns.NetworkInfo.Pnic {
		m.pnics = append(m.pnics, p.Device)
	}
	for _, vs := range ns.NetworkInfo.Vswitch {
		nics, _ := bridgeNics(vs.Spec.Bridge)
		m.switches[vs.Name] = nics
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
