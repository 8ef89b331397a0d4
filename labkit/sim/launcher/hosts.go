package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// patch writes the facts the vSphere API cannot set: a host's CPU, memory,
// version, state, EVC keys and vMotion adapters, and a cluster's EVC mode.
func (b *builder) patch() error {
	clusterEVC := map[string]string{}
	for _, cs := range b.s.Clusters {
		cl := simulator.Map.Get(b.clusters[cs.Name].Reference()).(*simulator.ClusterComputeResource)
		drs, ha := cs.DRS, cs.HA // the legacy configuration property mirrors configurationEx
		cl.Configuration.DrsConfig.Enabled = &drs
		cl.Configuration.DasConfig.Enabled = &ha
		if ex, ok := cl.ConfigurationEx.(*types.ClusterConfigInfoEx); ok {
			ex.DrsConfig.Enabled = &drs
			ex.DasConfig.Enabled = &ha
		}
		if cs.EVCMode != "" {
			if _, ok := lab.evcModes[cs.EVCMode]; !ok {
				return fmt.Errorf("cluster %s: unknown EVC mode %s", cs.Name, cs.EVCMode)
			}
			clusterEVC[cs.Name] = cs.EVCMode
			if sum, ok := cl.Summary.(*types.ClusterComputeResourceSummary); ok {
				sum.CurrentEVCModeKey = cs.EVCMode
			}
		}
	}
	for i, hs := range b.s.Hosts {
		h := simulator.Map.Get(b.hosts[hs.Name].Reference()).(*simulator.HostSystem)
		applyHost(h, hs, clusterEVC[hs.Cluster], i)
	}
	return nil
}

func featureList(features map[string]string) []types.HostFeatureCapability {
	var out []types.HostFeatureCapability
	for _, k := range sortedKeys(features) {
		out = append(out, types.HostFeatureCapability{Key: k, FeatureName: k, Value: features[k]})
	}
	return out
}

// maskedFeatures is what a host exposes to VMs: its own features, limited to
// the cluster's EVC mode when one is set.
func maskedFeatures(host map[string]string, mode string) map[string]string {
	if mode == "" {
		return host
	}
	out := map[string]string{}
	for k, v := range lab.evcModes[mode].Features {
		if _, ok := host[k]; ok {
			out[k] = v
		}
	}
	return out
}

func applyHost(h *simulator.HostSystem, hs hostSpec, evcMode string, index int) {
	hw := *h.Hardware
	hw.CpuPkg = []types.HostCpuPackage{{Index: 0, Vendor: hs.Vendor, Description: hs.CPUModel}}
	hw.MemorySize = hs.MemoryMB << 20
	hw.CpuInfo.NumCpuCores = hs.Cores
	hw.CpuInfo.NumCpuPackages = 1
	hw.CpuInfo.NumCpuThreads = hs.Cores * 2
	h.Hardware = &hw

	sh := *h.Summary.Hardware
	sh.CpuModel = hs.CPUModel
	sh.MemorySize = hs.MemoryMB << 20
	sh.NumCpuCores = hs.Cores
	sh.NumCpuPkgs = 1
	sh.NumCpuThreads = hs.Cores * 2
	h.Summary.Hardware = &sh

	h.Config.FeatureCapability = featureList(hs.Features)
	h.Config.MaskedFeatureCapability = featureList(maskedFeatures(hs.Features, evcMode))
	h.Summary.MaxEVCModeKey = hs.MaxEVCModeKey
	h.Summary.CurrentEVCModeKey = evcMode

	product := h.Config.Product
	product.Version = hs.Version
	product.Build = hs.Build
	product.FullName = fmt.Sprintf("VMware ESXi %s build-%s", hs.Version, hs.Build)
	h.Config.Product = product
	sp := product
	h.Summary.Config.Product = &sp
	lab.maxHWVersion[h.Self] = hs.MaxHWVersion

	switch hs.ConnectionState {
	case "disconnected", "notResponding":
		h.Runtime.ConnectionState = types.HostSystemConnectionState(hs.ConnectionState)
		h.Runtime.PowerState = types.HostSystemPowerStateUnknown
	default:
		h.Runtime.ConnectionState = types.HostSystemConnectionStateConnected
	}
	h.Runtime.InMaintenanceMode = hs.Maintenance
	setVMotionVnics(h, hs.VMotionVnics, hs.MTU, index)
}

// setVMotionVnics gives the host VMkernel adapters on a "vMotion" port group
// and selects them for the vmotion service, in the three places vSphere
// reports it: virtualNicManagerInfo, vmotion.netConfig and summary.config.
func setVMotionVnics(h *simulator.HostSystem, devices []string, mtu int32, index int) {
	if mtu == 0 {
		mtu = 1500
	}
	mgmt := types.HostVirtualNic{Device: "vmk0", Key: "key-vim.host.VirtualNic-vmk0", Portgroup: "Management Network",
		Spec: types.HostVirtualNicSpec{Mtu: 1500, Portgroup: "Management Network", Mac: fmt.Sprintf("00:50:56:6a:%02x:00", index%256),
			Ip: &types.HostIpConfig{IpAddress: fmt.Sprintf("192.168.10.%d", 10+index%240), SubnetMask: "255.255.255.0"}}}
	vnics := []types.HostVirtualNic{mgmt}
	var selected []string
	for i, dev := range devices {
		key := "key-vim.host.VirtualNic-" + dev
		vnics = append(vnics, types.HostVirtualNic{Device: dev, Key: key, Portgroup: "vMotion",
			Spec: types.HostVirtualNicSpec{Mtu: mtu, Portgroup: "vMotion", Mac: fmt.Sprintf("00:50:56:6b:%02x:%02x", index%256, i),
				Ip: &types.HostIpConfig{IpAddress: fmt.Sprintf("10.10.%d.%d", i, 10+index%240), SubnetMask: "255.255.255.0"}}})
		selected = append(selected, key)
	}
	candidates := func(nicType string, pick []string) types.VirtualNicManagerNetConfig {
		var c []types.HostVirtualNic
		for _, v := range vnics {
			v.Key = nicType + "." + v.Key
			c = append(c, v)
		}
		var sel []string
		for _, k := range pick {
			sel = append(sel, nicType+"."+k)
		}
		return types.VirtualNicManagerNetConfig{NicType: nicType, MultiSelectAllowed: true, CandidateVnic: c, SelectedVnic: sel}
	}
	h.Config.VirtualNicManagerInfo = &types.HostVirtualNicManagerInfo{NetConfig: []types.VirtualNicManagerNetConfig{
		candidates("management", []string{mgmt.Key}),
		candidates("vmotion", selected),
	}}
	net := *h.Config.Network
	net.Vnic = vnics
	h.Config.Network = &net
	selectedDevice := ""
	if len(devices) > 0 {
		selectedDevice = "VMotionConfig.vmotion." + selected[0]
	}
	var cand []types.HostVirtualNic
	for _, v := range vnics {
		v.Key = "VMotionConfig.vmotion." + v.Key
		cand = append(cand, v)
	}
	h.Config.Vmotion = &types.HostVMotionInfo{NetConfig: &types.HostVMotionNetConfig{CandidateVnic: cand, SelectedVnic: selectedDevice}}
	h.Summary.Config.VmotionEnabled = len(devices) > 0
	lab.vmotionMTU[h.Self] = mtu
}

// vmotionVnics lists the devices selected for vMotion on a host.
func vmotionVnics(h *simulator.HostSystem) []string {
	if h.Config == nil || h.Config.VirtualNicManagerInfo == nil {
		return nil
	}
	for _, nc := range h.Config.VirtualNicManagerInfo.NetConfig {
		if nc.NicType != "vmotion" {
			continue
		}
		var out []string
		for _, sel := range nc.SelectedVnic {
			for _, v := range nc.CandidateVnic {
				if v.Key == sel {
					out = append(out, v.Device)
				}
			}
		}
		return out
	}
	return nil
}
