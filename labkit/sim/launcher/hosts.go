package main

import (
	"fmt"
	"net"

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
			ex.DrsConfig.DefaultVmBehavior = types.DrsBehaviorFullyAutomated // the scenario's spec (clusterStep)
			ex.DasConfig.Enabled = &ha
			mirrorLegacyConfig(cl, ex)
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

	product := hostProduct(h.Config.Product, hs)
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
	h.Capability = labHostCapability()
	refreshHostBrowser(h)
	setLinkSpeed(h, hs.UplinkMbps, hs.FullDuplex)
	setVMotionVnics(h, hs.VMotionVnics, hs.MTU, index)
	placeVMotionVnics(h, hs)
}

// placeVMotionVnics gives the host's first vMotion adapter the scenario's address (vmotionIp, CIDR) and puts its
// vMotion adapters on the vMotion TCP/IP stack (vmotionStack; vSphere Networking, "Place vMotion Traffic on the
// vMotion TCP/IP Stack of an ESXi Host"), whose default gateway is then theirs.
func placeVMotionVnics(h *simulator.HostSystem, hs hostSpec) {
	st := lab.vnics[h.Self]
	if st == nil || (hs.VMotionIP == "" && !hs.VMotionStack) {
		return
	}
	for n, dev := range st.selected["vmotion"] {
		i := st.find(dev)
		if i < 0 {
			continue
		}
		if hs.VMotionStack {
			st.nics[i].Spec.NetStackInstanceKey = "vmotion"
		}
		if n == 0 && hs.VMotionIP != "" {
			if ip, subnet, err := net.ParseCIDR(hs.VMotionIP); err == nil {
				st.nics[i].Spec.Ip = &types.HostIpConfig{IpAddress: ip.String(), SubnetMask: net.IP(subnet.Mask).String()}
			}
		}
	}
	publishVnics(h)
}

// setLinkSpeed gives every physical NIC of h the scenario's link speed and duplex: its linkSpeed (the link is
// up), its spec's linkSpeed (the speed it is configured to use) and its only valid link specification, in
// config.network.pnic and in the network system's networkInfo.pnic alike (API reference, PhysicalNic). A spec
// without a speed leaves the engine's 10000 Mb/s, full duplex.
func setLinkSpeed(h *simulator.HostSystem, mbps int32, fullDuplex bool) {
	if mbps == 0 || h.Config == nil || h.Config.Network == nil {
		return
	}
	link := func() *types.PhysicalNicLinkInfo {
		return &types.PhysicalNicLinkInfo{SpeedMb: mbps, Duplex: fullDuplex}
	}
	pnics := append([]types.PhysicalNic(nil), h.Config.Network.Pnic...)
	for i := range pnics {
		pnics[i].LinkSpeed = link()
		pnics[i].Spec.LinkSpeed = link()
		pnics[i].ValidLinkSpecification = []types.PhysicalNicLinkInfo{*link()}
	}
	setPnics(h, pnics)
}

// setPnics makes pnics the host's physical NICs in config.network and in its network system's networkInfo
// (written directly, while the inventory is built).
func setPnics(h *simulator.HostSystem, pnics []types.PhysicalNic) {
	net := *h.Config.Network
	net.Pnic = pnics
	h.Config.Network = &net
	if h.ConfigManager.NetworkSystem == nil {
		return
	}
	if ns, ok := simulator.Map.Get(*h.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem); ok && ns.NetworkInfo != nil {
		ns.NetworkInfo.Pnic = append([]types.PhysicalNic(nil), pnics...)
	}
}

// labHostCapability is HostSystem.capability for a lab host. The API reference (HostCapability) uses these flags
// "to indicate under what circumstances an API will throw a NotSupported fault", so a flag is true only where
// the lab serves what it names: vMotion, Storage vMotion and both at once, maintenance mode, NFS datastores,
// VLAN tags on port groups, NIC teaming and migration of suspended VMs. Host reboot and shutdown, standby,
// SAN and iSCSI are not modelled, and say so.
func labHostCapability() *types.HostCapability {
	yes := types.NewBool(true)
	return &types.HostCapability{
		VmotionSupported:                   true,
		StorageVMotionSupported:            yes,
		VmotionWithStorageVMotionSupported: yes,
		MaintenanceModeSupported:           true,
		NfsSupported:                       true,
		VlanTaggingSupported:               true,
		NicTeamingSupported:                true,
		SuspendedRelocateSupported:         true,
	}
}

// refreshHostBrowser gives h a HostDatastoreBrowser of its own, over the datastores it mounts (vSphere API
// reference, HostSystem.datastoreBrowser: "DatastoreBrowser to browse datastores for this host"). The
// simulator's host template names one shared "ha-host-datastorebrowser" that exists on no vCenter world, so a
// client that browsed through a host met ManagedObjectNotFound.
func refreshHostBrowser(h *simulator.HostSystem) {
	b, ok := simulator.Map.Get(h.DatastoreBrowser).(*simulator.HostDatastoreBrowser)
	if !ok || h.DatastoreBrowser.Value == "ha-host-datastorebrowser" {
		b = &simulator.HostDatastoreBrowser{}
		b.Self = types.ManagedObjectReference{Type: "HostDatastoreBrowser", Value: "datastoreBrowser-" + h.Self.Value}
		simulator.Map.Put(b)
		h.DatastoreBrowser = b.Self
	}
	b.Datastore = append([]types.ManagedObjectReference(nil), h.Datastore...)
}

// refreshHostMounts lists h's mounted datastores in its storage system's fileSystemVolumeInfo.mountInfo (vSphere
// API reference, HostStorageSystem.fileSystemVolumeInfo: "File system volume information for the host"), each
// with the host's mount (path, access mode) and its volume: an NFS export's HostNasVolume (remote host and
// path), else the volume's type and capacity. The simulator package listed none, so a client that looked there
// for a mount (vmware_host_datastore) mounted the same export again.
func refreshHostMounts(h *simulator.HostSystem) {
	if h.ConfigManager.StorageSystem == nil {
		return
	}
	ss, ok := simulator.Map.Get(*h.ConfigManager.StorageSystem).(*simulator.HostStorageSystem)
	if !ok {
		return
	}
	var mounts []types.HostFileSystemMountInfo
	for _, ref := range h.Datastore {
		ds, ok := simulator.Map.Get(ref).(*simulator.Datastore)
		if !ok {
			continue
		}
		m := types.HostFileSystemMountInfo{}
		for _, hm := range ds.Host {
			if hm.Key == h.Self {
				m.MountInfo = hm.MountInfo
			}
		}
		base := types.HostFileSystemVolume{Type: ds.Summary.Type, Name: ds.Name, Capacity: ds.Summary.Capacity}
		if nas := nasOf(ds); nas != nil {
			vol := *nas
			vol.HostFileSystemVolume = base
			m.Volume = &vol
		} else {
			m.Volume = &base
		}
		mounts = append(mounts, m)
	}
	ss.FileSystemVolumeInfo.MountInfo = mounts
}
