package main

import (
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ReconfigureComputeResource_Task on a cluster: DRS, vSphere HA and DPM
// settings change.
//
// The simulator package applies a ClusterConfigSpecEx's rules, groups and VM
// overrides and ignores the rest, so turning DRS or HA off returned success
// and changed nothing. The lab applies drsConfig, dasConfig and dpmConfig as
// the vSphere API reference says (ComputeResource.ReconfigureComputeResource_Task,
// ClusterDrsConfigInfo, ClusterDasConfigInfo): with modify=true "an unset
// property has no effect on the existing property value"; with modify=false a
// section that is set replaces the cluster's section. The simulator package
// then applies the rest of the spec, as before. What DRS and HA then do in
// the lab: maintenance mode (maintenance.go) evacuates by DRS only when DRS is
// on and fully automated; HA failover is not modelled.

// mergeSet copies onto dst every field of src that is set; dst and src point to structs of one type.
func mergeSet(dst, src interface{}) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for i := 0; i < s.NumField(); i++ {
		if s.Type().Field(i).Anonymous {
			continue // DynamicData
		}
		if f := s.Field(i); !f.IsZero() {
			d.Field(i).Set(f)
		}
	}
}

// applyClusterSpec applies the DRS, HA and DPM sections of spec to cfg.
func applyClusterSpec(cfg *types.ClusterConfigInfoEx, spec *types.ClusterConfigSpecEx, modify bool) {
	if spec.DrsConfig != nil {
		if modify {
			mergeSet(&cfg.DrsConfig, spec.DrsConfig)
		} else {
			cfg.DrsConfig = *spec.DrsConfig
		}
	}
	if spec.DasConfig != nil {
		if modify {
			mergeSet(&cfg.DasConfig, spec.DasConfig)
		} else {
			cfg.DasConfig = *spec.DasConfig
		}
	}
	if spec.ProactiveDrsConfig != nil {
		if cfg.ProactiveDrsConfig == nil || !modify {
			cfg.ProactiveDrsConfig = &types.ClusterProactiveDrsConfigInfo{}
		}
		mergeSet(cfg.ProactiveDrsConfig, spec.ProactiveDrsConfig)
	}
	if spec.DpmConfig != nil {
		if cfg.DpmConfigInfo == nil || !modify {
			cfg.DpmConfigInfo = &types.ClusterDpmConfigInfo{}
		}
		mergeSet(cfg.DpmConfigInfo, spec.DpmConfig)
	}
}

func (r *clusterRouter) ReconfigureComputeResourceTask(ctx *simulator.Context, req *types.ReconfigureComputeResource_Task) soap.HasFault {
	cl := r.cluster()
	if cl == nil {
		return &methods.ReconfigureComputeResource_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})}
	}
	req.This = cl.Self
	var res soap.HasFault
	simulator.Map.WithLock(cl, func() {
		if spec, ok := req.Spec.(*types.ClusterConfigSpecEx); ok {
			if cfg, ok := cl.ConfigurationEx.(*types.ClusterConfigInfoEx); ok {
				applyClusterSpec(cfg, spec, req.Modify)
				mirrorLegacyConfig(cl, cfg)
				simulator.Map.Update(cl, []types.PropertyChange{{Name: "configurationEx", Val: cfg},
					{Name: "configuration", Val: cl.Configuration}})
			}
		}
		res = cl.ReconfigureComputeResourceTask(req)
		if cfg, ok := cl.ConfigurationEx.(*types.ClusterConfigInfoEx); ok {
			mirrorLegacyConfig(cl, cfg)
		}
	})
	return res
}

// ReconfigureClusterTask is the older form of the call (ClusterComputeResource.ReconfigureCluster_Task, deprecated
// since API 2.5 but still served): its ClusterConfigSpec is the DRS, HA, VM-override and rules part of a
// ClusterConfigSpecEx, applied the same way.
func (r *clusterRouter) ReconfigureClusterTask(ctx *simulator.Context, req *types.ReconfigureCluster_Task) soap.HasFault {
	ex := &types.ClusterConfigSpecEx{DasConfig: req.Spec.DasConfig, DasVmConfigSpec: req.Spec.DasVmConfigSpec,
		DrsConfig: req.Spec.DrsConfig, DrsVmConfigSpec: req.Spec.DrsVmConfigSpec, RulesSpec: req.Spec.RulesSpec}
	res := r.ReconfigureComputeResourceTask(ctx, &types.ReconfigureComputeResource_Task{This: req.This, Spec: ex, Modify: req.Modify})
	body := res.(*methods.ReconfigureComputeResource_TaskBody)
	if body.Fault_ != nil {
		return &methods.ReconfigureCluster_TaskBody{Fault_: body.Fault_}
	}
	return &methods.ReconfigureCluster_TaskBody{Res: &types.ReconfigureCluster_TaskResponse{Returnval: body.Res.Returnval}}
}

// GetResourceUsage sums the cluster's resources (ClusterComputeResource.GetResourceUsage, API 6.0): CPU and
// memory capacity of its connected hosts, memory used as the lab's admission checks count it (the configured
// memory of powered-on VMs), and the capacity and used space of its datastores. CPU use is not modelled: 0.
func (r *clusterRouter) GetResourceUsage(ctx *simulator.Context, req *types.GetResourceUsage) soap.HasFault {
	cl := r.cluster()
	if cl == nil {
		return &methods.GetResourceUsageBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})}
	}
	var u types.ClusterResourceUsageSummary
	for _, ref := range cl.Host {
		h, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok || h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
			continue
		}
		u.CpuCapacityMHz += int32(h.Hardware.CpuInfo.Hz/1000000) * int32(h.Hardware.CpuInfo.NumCpuCores)
		u.MemCapacityMB += int32(h.Hardware.MemorySize >> 20)
		u.MemUsedMB += int32(h.Hardware.MemorySize>>20 - unreservedMB(h, types.ManagedObjectReference{}))
	}
	for _, ref := range cl.Datastore {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok {
			s := ds.Summary
			u.StorageCapacityMB += s.Capacity >> 20
			u.StorageUsedMB += (s.Capacity - s.FreeSpace) >> 20
		}
	}
	return &methods.GetResourceUsageBody{Res: &types.GetResourceUsageResponse{Returnval: u}}
}

// mirrorLegacyConfig copies the DRS and HA settings, rules and VM overrides into the cluster's deprecated configuration property
// (ClusterConfigInfo), which older clients still read.
func mirrorLegacyConfig(cl *simulator.ClusterComputeResource, cfg *types.ClusterConfigInfoEx) {
	cl.Configuration.DrsConfig, cl.Configuration.DasConfig = cfg.DrsConfig, cfg.DasConfig
	cl.Configuration.Rule = append([]types.BaseClusterRuleInfo(nil), cfg.Rule...)
	cl.Configuration.DrsVmConfig = append([]types.ClusterDrsVmConfigInfo(nil), cfg.DrsVmConfig...)
	cl.Configuration.DasVmConfig = append([]types.ClusterDasVmConfigInfo(nil), cfg.DasVmConfig...)
}

type folderRouter struct {
	labObject
}

// CreateClusterEx creates the cluster with the spec applied (Folder.CreateClusterEx: "spec: Specification for
// the cluster"); the simulator package ignored the spec. A new cluster also reports Proactive DRS, off: vCenter
// returns ClusterConfigInfoEx.proactiveDrsConfig, which clients such as vmware_cluster_drs read; that it is off
// is an inference (Proactive DRS acts on Proactive HA providers, which the lab has none of).
func (r *folderRouter) CreateClusterEx(ctx *simulator.Context, req *types.CreateClusterEx) soap.HasFault {
	f, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "Folder", Value: r.Self.Value}).(*simulator.Folder)
	if !ok {
		return &methods.CreateClusterExBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})}
	}
	req.This = f.Self
	res := f.CreateClusterEx(ctx, req) // it takes the folder's lock itself
	body := res.(*methods.CreateClusterExBody)
	if body.Res == nil {
		return res
	}
	cl := simulator.Map.Get(body.Res.Returnval).(*simulator.ClusterComputeResource)
	simulator.Map.WithLock(cl, func() {
		cfg := cl.ConfigurationEx.(*types.ClusterConfigInfoEx)
		cfg.ProactiveDrsConfig = &types.ClusterProactiveDrsConfigInfo{Enabled: types.NewBool(false)}
		applyClusterSpec(cfg, &req.Spec, false)
		mirrorLegacyConfig(cl, cfg)
	})
	return res
}
