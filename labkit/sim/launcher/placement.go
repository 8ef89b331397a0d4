package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// PlaceVm for a VM that exists: where DRS would move it.
//
// ClusterComputeResource.PlaceVm "can invoke DRS for recommendations for target
// hosts and datastores for placing a virtual machine and its virtual disks
// using xVMotion" (vSphere API reference, PlacementResult). The simulator
// package answers only clone and create placements and refuses a relocation
// with NotSupported, so a client that moves a VM to a cluster (Ansible's
// vmware_vmotion destination_cluster) could not. For a relocation the lab
// ranks the candidate hosts (spec.hosts, else the cluster's) the way its
// maintenance-mode evacuation does: every host the lab's vMotion checks
// accept, the one with the most unreserved memory first, each one
// recommendation (reason xvmotionPlacement) with a PlacementAction whose
// relocateSpec names the host, the cluster's root pool and the datastore
// (spec.relocateSpec's, else the VM's own). When no host passes, the result
// carries the checks' faults for the VM in drsFault. Storage DRS (storagePods)
// is not modelled.

func (r *clusterRouter) PlaceVm(ctx *simulator.Context, req *types.PlaceVm) soap.HasFault {
	cl := r.cluster()
	if cl == nil {
		return &methods.PlaceVmBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})}
	}
	spec := req.PlacementSpec
	relocate := spec.PlacementType == "" || spec.PlacementType == string(types.PlacementSpecPlacementTypeRelocate)
	if !relocate || spec.Vm == nil {
		req.This = cl.Self
		var res soap.HasFault
		simulator.Map.WithLock(cl, func() { res = cl.PlaceVm(ctx, req) })
		return res
	}
	vm, ok := simulator.Map.Get(*spec.Vm).(*simulator.VirtualMachine)
	if !ok {
		return &methods.PlaceVmBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: *spec.Vm})}
	}
	src, _ := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
	var ds *types.ManagedObjectReference
	if spec.RelocateSpec != nil && spec.RelocateSpec.Datastore != nil {
		ds = spec.RelocateSpec.Datastore
	} else if len(vm.Datastore) > 0 {
		ds = &vm.Datastore[0]
	}
	candidates := spec.Hosts
	if len(candidates) == 0 {
		candidates = cl.Host
	}
	type fit struct {
		host *simulator.HostSystem
		free int64
	}
	var fits []fit
	var faults []types.LocalizedMethodFault
	for _, ref := range candidates {
		h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok || !containsRef(cl.Host, ref) {
			return &methods.PlaceVmBody{Fault_: simulator.Fault(fmt.Sprintf("%s is not a host of cluster %s.", ref.Value, cl.Name),
				&types.InvalidArgument{InvalidProperty: "placementSpec.hosts"})}
		}
		m := move{vm: vm, src: src, dest: h, pool: cl.ResourcePool}
		if ds != nil && !containsRef(vm.Datastore, *ds) {
			m.datastore = ds
		}
		if h.Self == src.Self {
			m.dest = nil
		}
		var v verdict
		with(vm, func() { v = check(m, nil) })
		if len(v.errors) > 0 {
			faults = append(faults, v.errors...)
			continue
		}
		fits = append(fits, fit{h, unreservedMB(h, vm.Self)})
	}
	sort.SliceStable(fits, func(i, j int) bool { return fits[i].free > fits[j].free })
	result := types.PlacementResult{}
	for i, f := range fits {
		host := f.host.Self
		action := &types.PlacementAction{
			ClusterAction: types.ClusterAction{Type: "PlacementV1", Target: &host},
			Vm:            spec.Vm,
			TargetHost:    &host,
			RelocateSpec:  &types.VirtualMachineRelocateSpec{Host: &host, Pool: cl.ResourcePool, Datastore: ds},
		}
		result.Recommendations = append(result.Recommendations, types.ClusterRecommendation{
			Key: fmt.Sprint(i + 1), Type: "V1", Time: time.Now(), Rating: int32(5 - min(i, 4)),
			Reason:     string(types.RecommendationReasonCodeXvmotionPlacement),
			ReasonText: string(types.RecommendationReasonCodeXvmotionPlacement),
			Target:     &cl.Self,
			Action:     []types.BaseClusterAction{action},
		})
	}
	if len(fits) == 0 {
		result.DrsFault = &types.ClusterDrsFaults{Reason: string(types.RecommendationReasonCodeXvmotionPlacement),
			FaultsByVm: []types.BaseClusterDrsFaultsFaultsByVm{&types.ClusterDrsFaultsFaultsByVm{Vm: spec.Vm, Fault: faults}}}
	}
	return &methods.PlaceVmBody{Res: &types.PlaceVmResponse{Returnval: result}}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
