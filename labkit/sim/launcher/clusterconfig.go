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
	})
	return res
}

// mirrorLegacyConfig copies the DRS and HA settings into the cluster's deprecated configuration property
// (ClusterConfigInfo), which older clients still read.
func mirrorLegacyConfig(cl *simulator.ClusterComputeResource, cfg *types.ClusterConfigInfoEx) {
	cl.Configuration.DrsConfig, cl.Configuration.DasConfig = cfg.DrsConfig, cfg.DasConfig
}
