package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A host's vSAN system, with vSAN off.
//
// Every ESXi host has a HostVsanSystem (vSphere API reference,
// HostConfigManager.vsanSystem). The simulator's host template names one
// ("vsanSystem") but registers none, so every client that reads the host's
// vSAN state met ManagedObjectNotFound. The lab runs no vSAN: config.enabled
// is false and QueryHostStatus reports the node disabled, its health unknown
// (VsanHostNodeState "disabled", VsanHostHealthState "unknown"). What the
// system does change is which VMkernel adapters carry vSAN traffic
// (config.networkInfo.port, through UpdateVsan_Task), the same selection the
// HostVirtualNicManager shows as the "vsan" nic type. Turning vSAN on is not
// modelled: the lab has no vSAN datastore, disk groups or cluster membership.

type vsanSystem struct {
	mo.HostVsanSystem
	host types.ManagedObjectReference
}

func newVsanSystem(h *simulator.HostSystem) *vsanSystem {
	s := &vsanSystem{host: h.Self}
	s.Self = types.ManagedObjectReference{Type: "HostVsanSystem", Value: "vsanSystem-" + h.Self.Value}
	host := h.Self
	s.Config = types.VsanHostConfigInfo{Enabled: types.NewBool(false), HostSystem: &host,
		NetworkInfo: &types.VsanHostConfigInfoNetworkInfo{}}
	return s
}

func isVsanSystem(ref types.ManagedObjectReference) bool {
	_, ok := simulator.Map.Get(ref).(*vsanSystem)
	return ok
}

// publishVsan shows the adapters selected for vSAN traffic in the vSAN system's config.
func publishVsan(h *simulator.HostSystem, st *hostVnics) {
	if h.ConfigManager.VsanSystem == nil {
		return
	}
	s, ok := simulator.Map.Get(*h.ConfigManager.VsanSystem).(*vsanSystem)
	if !ok {
		return
	}
	var ports []types.VsanHostConfigInfoNetworkInfoPortConfig
	for _, dev := range st.selected["vsan"] {
		ports = append(ports, types.VsanHostConfigInfoNetworkInfoPortConfig{Device: dev})
	}
	s.Config.NetworkInfo = &types.VsanHostConfigInfoNetworkInfo{Port: ports}
}

// QueryHostStatus reports the host's vSAN node state: disabled, health unknown.
func (s *vsanSystem) QueryHostStatus(ctx *simulator.Context, req *types.QueryHostStatus) soap.HasFault {
	return &methods.QueryHostStatusBody{Res: &types.QueryHostStatusResponse{Returnval: types.VsanHostClusterStatus{
		Health:    string(types.VsanHostHealthStateUnknown),
		NodeState: types.VsanHostClusterStatusState{State: string(types.VsanHostNodeStateDisabled)},
	}}}
}

// UpdateVsanTask applies a VsanHostConfigInfo: its networkInfo, when set, becomes the list of adapters that carry
// vSAN traffic (each must be one of the host's VMkernel adapters: InvalidArgument otherwise). enabled=true is
// refused with NotSupported, as vSAN itself is not modelled.
func (s *vsanSystem) UpdateVsanTask(ctx *simulator.Context, req *types.UpdateVsan_Task) soap.HasFault {
	body := &methods.UpdateVsan_TaskBody{}
	h, ok := simulator.Map.Get(s.host).(*simulator.HostSystem)
	st := lab.vnics[s.host]
	if !ok || st == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	cfg := req.Config
	if cfg.Enabled != nil && *cfg.Enabled {
		body.Fault_ = simulator.Fault("The lab world does not run vSAN: it has no vSAN datastore or disk groups, so vSAN cannot be turned on.",
			&types.NotSupported{})
		return body
	}
	var devices []string
	if cfg.NetworkInfo != nil {
		for _, p := range cfg.NetworkInfo.Port {
			if st.find(p.Device) < 0 {
				body.Fault_ = simulator.Fault(fmt.Sprintf("There is no VMkernel adapter %s on %s.", p.Device, h.Name),
					&types.InvalidArgument{InvalidProperty: "config.networkInfo.port.device"})
				return body
			}
			devices = append(devices, p.Device)
		}
	}
	t := newTask(h.Self, h.Name, "host.VsanSystem.update", false, userOf(ctx))
	go func() {
		t.start()
		if cfg.NetworkInfo != nil {
			simulator.Map.WithLock(h, func() {
				st.selected["vsan"] = devices
				publishVnics(h)
			})
		}
		t.succeed(nil)
	}()
	body.Res = &types.UpdateVsan_TaskResponse{Returnval: t.Self}
	return body
}
