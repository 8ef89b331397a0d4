package main

import (
	"context"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// A scenario with "generate" (the large datacenter for performance labs) lets
// the simulator package generate the bulk of the inventory, then gives every
// host the scenario's host facts, mounts every datastore on every host, and
// gives every VM the scenario's CPU feature requirement.

func generatedCounts(g *generateSpec) counts {
	return counts{datacenter: 1, cluster: g.Clusters, clusterHost: g.HostsPerCluster, standaloneHost: 0,
		machine: g.VMsPerCluster, pool: 1, datastore: 1, portgroup: 1}
}

func loadScenario(sc *scenario, user string, dsGiB int) error {
	if sc.Generate == nil {
		return buildScenario(context.Background(), sc, user)
	}
	for k, v := range sc.EVCModes {
		lab.evcModes[k] = v
	}
	if sc.MigrationSeconds > 0 {
		lab.migration = sc.MigrationSeconds
	}
	g := sc.Generate
	var hosts []types.ManagedObjectReference
	for i, e := range simulator.Map.All("HostSystem") {
		h := e.(*simulator.HostSystem)
		spec := g.Host
		spec.Name = h.Name
		applyHost(h, spec, "", i)
		hosts = append(hosts, h.Self)
	}
	for _, e := range simulator.Map.All("Datastore") {
		ds := e.(*simulator.Datastore)
		mountDatastore(ds.Self, hosts, datastoreSpec{Name: ds.Name, Type: "VMFS", CapacityGB: int64(dsGiB)})
	}
	var reqs []types.VirtualMachineFeatureRequirement
	for _, k := range sortedKeys(g.FeatureRequirement) {
		reqs = append(reqs, types.VirtualMachineFeatureRequirement{Key: k, FeatureName: k, Value: g.FeatureRequirement[k]})
	}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		vm.Runtime.FeatureRequirement = reqs
		if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			// the baseline its requirement is, as a scenario's VMs have it (their minRequiredEVCModeKey)
			vm.Runtime.MinRequiredEVCModeKey = g.Host.MaxEVCModeKey
		}
		// the generator's VMs have a CD-ROM on a host device, connected; a VM
		// made in the vSphere Client has one on the client device, not connected
		for _, d := range vm.Config.Hardware.Device {
			if cd, ok := d.(*types.VirtualCdrom); ok {
				cd.Backing = &types.VirtualCdromRemotePassthroughBackingInfo{}
				cd.Connectable = &types.VirtualDeviceConnectInfo{AllowGuestControl: true}
			}
		}
		if g.VMMemoryMB > 0 {
			vm.Config.Hardware.MemoryMB = g.VMMemoryMB
			vm.Summary.Config.MemorySizeMB = g.VMMemoryMB
		}
	}
	return nil
}
