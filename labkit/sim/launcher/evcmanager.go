package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Cluster EVC at run time, through ClusterEVCManager (vSphere API 6.0), which
// the simulator package lacks. ClusterComputeResource.EvcManager() hands out
// one manager per cluster. ConfigureEvcMode_Task refuses a baseline as vCenter
// does, with the first problem CheckConfigureEvcMode_Task reports:
//   - EVCModeIllegalByVendor: the mode is for another CPU vendor;
//   - EVCModeUnsupportedByHosts: a host's CPU lacks features of the mode;
//   - DisconnectedHostsBlockingEVC: a host of the cluster is not connected;
//   - ActiveVMsBlockingEVC: a powered-on VM uses features the mode would hide.
// Applying a mode masks every host's features to it (what the vMotion CPU
// check reads); DisableEvcMode_Task unmasks them.

type evcManager struct {
	mo.ClusterEVCManager
}

type clusterRouter struct {
	labObject
}

func (r *clusterRouter) Reference() types.ManagedObjectReference { return r.Self }

func (r *clusterRouter) cluster() *simulator.ClusterComputeResource {
	cl, _ := simulator.Map.Get(types.ManagedObjectReference{Type: "ClusterComputeResource", Value: r.Self.Value}).(*simulator.ClusterComputeResource)
	return cl
}

func (r *clusterRouter) EvcManager(ctx *simulator.Context, req *types.EvcManager) soap.HasFault {
	body := &methods.EvcManagerBody{}
	cl := r.cluster()
	if cl == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	ref := types.ManagedObjectReference{Type: "ClusterEVCManager", Value: "evcManager-" + cl.Self.Value}
	m, ok := simulator.Map.Get(ref).(*evcManager)
	if !ok {
		m = &evcManager{}
		m.Self = ref
		m.ManagedCluster = cl.Self
		simulator.Map.Put(m)
	}
	m.refresh(cl)
	body.Res = &types.EvcManagerResponse{Returnval: &m.Self}
	return body
}

// modeKeys lists the lab's EVC modes, by vendor and then from the oldest baseline.
func modeKeys() []string {
	keys := make([]string, 0, len(lab.evcModes))
	for k := range lab.evcModes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := lab.evcModes[keys[i]], lab.evcModes[keys[j]]
		if a.Vendor != b.Vendor {
			return a.Vendor < b.Vendor
		}
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		return keys[i] < keys[j]
	})
	return keys
}

func clusterEVCKey(cl *simulator.ClusterComputeResource) string {
	if sum, ok := cl.Summary.(*types.ClusterComputeResourceSummary); ok {
		return sum.CurrentEVCModeKey
	}
	return ""
}

func (m *evcManager) cluster() *simulator.ClusterComputeResource {
	cl, _ := simulator.Map.Get(m.ManagedCluster).(*simulator.ClusterComputeResource)
	return cl
}

func (m *evcManager) refresh(cl *simulator.ClusterComputeResource) {
	var supported []types.EVCMode
	for _, k := range modeKeys() {
		e := lab.evcModes[k]
		supported = append(supported, types.EVCMode{
			ElementDescription: types.ElementDescription{Description: types.Description{Label: e.Label, Summary: e.Label}, Key: k},
			Vendor:             e.Vendor, VendorTier: int32(e.Tier), FeatureCapability: featureList(e.Features)})
	}
	state := types.ClusterEVCManagerEVCState{SupportedEVCMode: supported, CurrentEVCModeKey: clusterEVCKey(cl)}
	if key := state.CurrentEVCModeKey; key != "" {
		state.FeatureCapability = featureList(lab.evcModes[key].Features)
	}
	m.EvcState = state
	simulator.Map.Update(m, []types.PropertyChange{{Name: "evcState", Val: m.EvcState}})
}

// hostFeatures is the host's own CPU feature list, before any EVC mask.
func hostFeatures(h *simulator.HostSystem) map[string]string {
	out := map[string]string{}
	for _, c := range h.Config.FeatureCapability {
		out[c.Key] = c.Value
	}
	return out
}

func hostVendor(h *simulator.HostSystem) string {
	if h.Hardware != nil && len(h.Hardware.CpuPkg) > 0 {
		return h.Hardware.CpuPkg[0].Vendor
	}
	return ""
}

func clusterHosts(cl *simulator.ClusterComputeResource) []*simulator.HostSystem {
	var out []*simulator.HostSystem
	for _, ref := range cl.Host {
		if h, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
			out = append(out, h)
		}
	}
	return out
}

func evcFault(key string, f types.BaseMethodFault, msg string) types.ClusterEVCManagerCheckResult {
	return types.ClusterEVCManagerCheckResult{EvcModeKey: key, Error: types.LocalizedMethodFault{Fault: f, LocalizedMessage: msg}}
}

// evcProblems is what stops the cluster from taking the mode, in the order vCenter reports them.
func evcProblems(cl *simulator.ClusterComputeResource, key string) []types.ClusterEVCManagerCheckResult {
	mode := lab.evcModes[key]
	var out []types.ClusterEVCManagerCheckResult
	var wrongVendor, lacking, disconnected, busy []*simulator.HostSystem
	var busyVMs []string
	for _, h := range clusterHosts(cl) {
		if v := hostVendor(h); v != "" && v != mode.Vendor {
			wrongVendor = append(wrongVendor, h)
			continue
		}
		own := hostFeatures(h)
		for f := range mode.Features {
			if _, ok := own[f]; !ok {
				lacking = append(lacking, h)
				break
			}
		}
		if h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
			disconnected = append(disconnected, h)
		}
		hidden := false
		for _, vm := range poweredOnVMs(h) {
			for _, r := range vm.Runtime.FeatureRequirement {
				if !strings.HasPrefix(strings.ToLower(r.Key), "cpuid.") {
					continue
				}
				if _, ok := mode.Features[strings.ToLower(r.Key)]; !ok {
					hidden = true
					busyVMs = append(busyVMs, vm.Name)
					break
				}
			}
		}
		if hidden {
			busy = append(busy, h)
		}
	}
	refs := func(hs []*simulator.HostSystem) ([]types.ManagedObjectReference, []string) {
		var r []types.ManagedObjectReference
		var n []string
		for _, h := range hs {
			r, n = append(r, h.Self), append(n, h.Name)
		}
		return r, n
	}
	if len(wrongVendor) > 0 {
		_, names := refs(wrongVendor)
		res := evcFault(key, &types.EVCModeIllegalByVendor{ClusterCPUVendor: hostVendor(wrongVendor[0]), ModeCPUVendor: mode.Vendor},
			fmt.Sprintf("The EVC mode %s is for %s CPUs; %s has another vendor's CPU.", key, mode.Vendor, strings.Join(names, ", ")))
		res.Host, _ = refs(wrongVendor)
		out = append(out, res)
	}
	if len(lacking) > 0 {
		r, n := refs(lacking)
		res := evcFault(key, &types.EVCModeUnsupportedByHosts{EvcMode: key, Host: r, HostName: n},
			fmt.Sprintf("The CPU of %s lacks features of the EVC mode %s: choose a lower baseline.", strings.Join(n, ", "), key))
		res.Host = r
		out = append(out, res)
	}
	if len(disconnected) > 0 {
		r, n := refs(disconnected)
		res := evcFault(key, &types.DisconnectedHostsBlockingEVC{},
			fmt.Sprintf("%s is not connected: reconnect it or remove it from the cluster first.", strings.Join(n, ", ")))
		res.Host = r
		out = append(out, res)
	}
	if len(busy) > 0 {
		r, n := refs(busy)
		res := evcFault(key, &types.ActiveVMsBlockingEVC{EvcMode: key, Host: r, HostName: n},
			fmt.Sprintf("Powered-on virtual machines (%s) use CPU features that the EVC mode %s would hide: power them off first, or choose a higher baseline.",
				strings.Join(busyVMs, ", "), key))
		res.Host = r
		out = append(out, res)
	}
	return out
}

// applyEVC sets (or, with "", clears) the cluster's mode and masks every host to it.
func applyEVC(cl *simulator.ClusterComputeResource, key string) {
	if sum, ok := cl.Summary.(*types.ClusterComputeResourceSummary); ok {
		sum.CurrentEVCModeKey = key
		simulator.Map.Update(cl, []types.PropertyChange{{Name: "summary", Val: cl.Summary}})
	}
	for _, h := range clusterHosts(cl) {
		h.Summary.CurrentEVCModeKey = key
		h.Config.MaskedFeatureCapability = featureList(maskedFeatures(hostFeatures(h), key))
		simulator.Map.Update(h, []types.PropertyChange{
			{Name: "summary.currentEVCModeKey", Val: key},
			{Name: "config.maskedFeatureCapability", Val: h.Config.MaskedFeatureCapability}})
	}
}

// modeRequest finds the cluster and checks the EVC mode a call names.
func (m *evcManager) modeRequest(key string) (*simulator.ClusterComputeResource, *soap.Fault) {
	cl := m.cluster()
	if cl == nil {
		return nil, simulator.Fault("", &types.ManagedObjectNotFound{Obj: m.ManagedCluster})
	}
	if _, ok := lab.evcModes[key]; !ok {
		return nil, simulator.Fault(fmt.Sprintf("%q is not an EVC mode: see evcState.supportedEVCMode.", key),
			&types.InvalidArgument{InvalidProperty: "evcModeKey"})
	}
	return cl, nil
}

func (m *evcManager) ConfigureEvcModeTask(ctx *simulator.Context, req *types.ConfigureEvcMode_Task) soap.HasFault {
	body := &methods.ConfigureEvcMode_TaskBody{}
	cl, fault := m.modeRequest(req.EvcModeKey)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	t := newTask(cl.Self, cl.Name, "ClusterEVCManager.configureEvcMode", false, userOf(ctx))
	go func() {
		t.start()
		var problems []types.ClusterEVCManagerCheckResult
		simulator.Map.WithLock(cl, func() {
			problems = evcProblems(cl, req.EvcModeKey)
			if len(problems) == 0 {
				applyEVC(cl, req.EvcModeKey)
			}
		})
		m.refresh(cl)
		if len(problems) > 0 {
			t.failWith(problems[0].Error)
			return
		}
		t.succeed(nil)
	}()
	body.Res = &types.ConfigureEvcMode_TaskResponse{Returnval: t.Self}
	return body
}

func (m *evcManager) DisableEvcModeTask(ctx *simulator.Context, req *types.DisableEvcMode_Task) soap.HasFault {
	body := &methods.DisableEvcMode_TaskBody{}
	cl := m.cluster()
	if cl == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: m.ManagedCluster})
		return body
	}
	t := newTask(cl.Self, cl.Name, "ClusterEVCManager.disableEvcMode", false, userOf(ctx))
	go func() {
		t.start()
		simulator.Map.WithLock(cl, func() { applyEVC(cl, "") })
		m.refresh(cl)
		t.succeed(nil)
	}()
	body.Res = &types.DisableEvcMode_TaskResponse{Returnval: t.Self}
	return body
}

func (m *evcManager) CheckConfigureEvcModeTask(ctx *simulator.Context, req *types.CheckConfigureEvcMode_Task) soap.HasFault {
	body := &methods.CheckConfigureEvcMode_TaskBody{}
	cl, fault := m.modeRequest(req.EvcModeKey)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	t := newTask(cl.Self, cl.Name, "ClusterEVCManager.checkConfigureEvcMode", false, userOf(ctx))
	go func() {
		t.start()
		var problems []types.ClusterEVCManagerCheckResult
		simulator.Map.WithLock(cl, func() { problems = evcProblems(cl, req.EvcModeKey) })
		t.succeed(types.ArrayOfClusterEVCManagerCheckResult{ClusterEVCManagerCheckResult: problems})
	}()
	body.Res = &types.CheckConfigureEvcMode_TaskResponse{Returnval: t.Self}
	return body
}

// PowerOnVMTask records, before the simulator powers the VM on, the CPU
// features it will see: those its host exposes (masked to the cluster's EVC
// mode, if any). vCenter keeps them in runtime.featureRequirement until the
// VM powers off, which is why a VM must power-cycle to pick up a new EVC mode.
func (r *vmRouter) PowerOnVMTask(ctx *simulator.Context, req *types.PowerOnVM_Task) soap.HasFault {
	vm, ok := simulator.Map.Get(r.target()).(*simulator.VirtualMachine)
	if !ok {
		return &methods.PowerOnVM_TaskBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: r.target()})}
	}
	hostRef := req.Host
	if hostRef == nil {
		hostRef = vm.Runtime.Host
	}
	if h, ok := simulator.Map.Get(*hostRef).(*simulator.HostSystem); ok && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		var refusal *types.LocalizedMethodFault
		simulator.Map.WithLock(vm, func() { refusal = powerOnRefusal(vm, h) })
		if refusal != nil {
			return &methods.PowerOnVM_TaskBody{Res: &types.PowerOnVM_TaskResponse{Returnval: refusedTask(ctx, vm, "VirtualMachine.powerOn", *refusal)}}
		}
	}
	if h, ok := simulator.Map.Get(*hostRef).(*simulator.HostSystem); ok && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
		var reqs []types.VirtualMachineFeatureRequirement
		for _, k := range sortedKeys(hostCapabilities(h)) {
			if strings.HasPrefix(k, "cpuid.") {
				reqs = append(reqs, types.VirtualMachineFeatureRequirement{Key: k, FeatureName: k, Value: "Bool:Min:1"})
			}
		}
		vm.Runtime.FeatureRequirement = reqs
		vm.Runtime.MinRequiredEVCModeKey = h.Summary.CurrentEVCModeKey
		if vm.Runtime.MinRequiredEVCModeKey == "" {
			vm.Runtime.MinRequiredEVCModeKey = h.Summary.MaxEVCModeKey
		}
	}
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		simulator.Map.WithLock(vm, func() { setConnected(vm, true) })
	}
	return vm.PowerOnVMTask(ctx, req)
}
