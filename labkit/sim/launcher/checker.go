package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// provisioningChecker serves the VirtualMachineProvisioningChecker
// (content.vmProvisioningChecker), which the simulator package lacks.
type provisioningChecker struct {
	labObject
}

func (c *provisioningChecker) Reference() types.ManagedObjectReference { return c.Self }

func installProvisioningChecker() {
	ref := serviceContent().VmProvisioningChecker
	if ref == nil {
		return
	}
	simulator.Map.Put(&provisioningChecker{labRef(*ref)})
}

func userOf(ctx *simulator.Context) string {
	if ctx.Session != nil {
		return ctx.Session.UserName
	}
	return ""
}

// runChecks runs in a task, as vCenter's check methods do.
// The task's entity is the (first) VM checked: TaskInfo.entity must be a managed entity.
func (c *provisioningChecker) runChecks(ctx *simulator.Context, vm types.ManagedObjectReference, id string, do func() ([]types.CheckResult, *types.LocalizedMethodFault)) types.ManagedObjectReference {
	t := newTask(vm, entityName(vm), id, false, userOf(ctx))
	go func() {
		t.start()
		res, fault := do()
		if fault != nil {
			t.failWith(*fault)
			return
		}
		t.succeed(types.ArrayOfCheckResult{CheckResult: res})
	}()
	return t.Self
}

func notFound(ref types.ManagedObjectReference) *types.LocalizedMethodFault {
	return &types.LocalizedMethodFault{Fault: &types.ManagedObjectNotFound{Obj: ref}, LocalizedMessage: "The object has already been deleted or has not been completely created"}
}

func getVM(ref types.ManagedObjectReference) (*simulator.VirtualMachine, *types.LocalizedMethodFault) {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil, notFound(ref)
	}
	return vm, nil
}

func getHost(ref *types.ManagedObjectReference) (*simulator.HostSystem, *types.LocalizedMethodFault) {
	if ref == nil {
		return nil, nil
	}
	h, ok := simulator.Map.Get(*ref).(*simulator.HostSystem)
	if !ok {
		return nil, notFound(*ref)
	}
	return h, nil
}

func result(m move, tests []string) types.CheckResult {
	v := check(m, tests)
	dest := m.dest
	if dest == nil {
		dest = m.src
	}
	vm, host := m.vm.Self, dest.Self
	return types.CheckResult{Vm: &vm, Host: &host, Error: v.errors, Warning: v.warnings}
}

func (c *provisioningChecker) CheckMigrateTask(ctx *simulator.Context, req *types.CheckMigrate_Task) soap.HasFault {
	ref := c.runChecks(ctx, req.Vm, "VirtualMachineProvisioningChecker.checkMigrate", func() ([]types.CheckResult, *types.LocalizedMethodFault) {
		vm, f := getVM(req.Vm)
		if f != nil {
			return nil, f
		}
		var out []types.CheckResult
		with(vm, func() {
			src := hostOf(vm)
			dest, f2 := getHost(req.Host)
			if f2 != nil {
				f = f2
				return
			}
			if f3 := powerStateArgument(vm, req.State); f3 != nil {
				f = f3
				return
			}
			p, f3 := resolvePlacement(vm, dest, req.Pool, migrateArgs)
			if f3 != nil {
				f = f3
				return
			}
			// no host in a DRS cluster: "each connected host in the cluster that is not in maintenance mode is tested"
			for _, h := range p.hosts {
				out = append(out, result(move{vm: vm, src: src, dest: h, pool: p.pool}, req.TestType))
			}
		})
		return out, f
	})
	return &methods.CheckMigrate_TaskBody{Res: &types.CheckMigrate_TaskResponse{Returnval: ref}}
}

func (c *provisioningChecker) CheckRelocateTask(ctx *simulator.Context, req *types.CheckRelocate_Task) soap.HasFault {
	ref := c.runChecks(ctx, req.Vm, "VirtualMachineProvisioningChecker.checkRelocate", func() ([]types.CheckResult, *types.LocalizedMethodFault) {
		vm, f := getVM(req.Vm)
		if f != nil {
			return nil, f
		}
		var out []types.CheckResult
		with(vm, func() {
			dest, f2 := getHost(req.Spec.Host)
			if f2 != nil {
				f = f2
				return
			}
			p, f3 := resolvePlacement(vm, dest, req.Spec.Pool, relocateArgs)
			if f3 != nil {
				f = f3
				return
			}
			for _, h := range p.hosts {
				out = append(out, result(move{vm: vm, src: hostOf(vm), dest: h, datastore: req.Spec.Datastore, pool: p.pool}, req.TestType))
			}
		})
		return out, f
	})
	return &methods.CheckRelocate_TaskBody{Res: &types.CheckRelocate_TaskResponse{Returnval: ref}}
}

func (c *provisioningChecker) QueryVMotionCompatibilityExTask(ctx *simulator.Context, req *types.QueryVMotionCompatibilityEx_Task) soap.HasFault {
	body := &methods.QueryVMotionCompatibilityEx_TaskBody{}
	if len(req.Vm) == 0 || len(req.Host) == 0 {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "vm"})
		return body
	}
	ref := c.runChecks(ctx, req.Vm[0], "VirtualMachineProvisioningChecker.queryVMotionCompatibilityEx", func() ([]types.CheckResult, *types.LocalizedMethodFault) {
		var out []types.CheckResult
		for _, vref := range req.Vm {
			vm, f := getVM(vref)
			if f != nil {
				return nil, f
			}
			for i := range req.Host {
				dest, f := getHost(&req.Host[i])
				if f != nil {
					return nil, f
				}
				with(vm, func() {
					out = append(out, result(move{vm: vm, src: hostOf(vm), dest: dest}, nil))
				})
			}
		}
		return out, nil
	})
	body.Res = &types.QueryVMotionCompatibilityEx_TaskResponse{Returnval: ref}
	return body
}

// with holds a VM's lock while its facts are read or changed.
func with(vm *simulator.VirtualMachine, f func()) {
	simulator.Map.WithLock(vm, f)
}

// candidateHosts are the other connected hosts, not in maintenance mode, of
// the source host's cluster (or none for a standalone host).
func candidateHosts(src *simulator.HostSystem) []*simulator.HostSystem {
	cl, ok := simulator.Map.Get(*src.Parent).(*simulator.ClusterComputeResource)
	if !ok {
		return nil
	}
	var out []*simulator.HostSystem
	for _, ref := range cl.Host {
		h := simulator.Map.Get(ref).(*simulator.HostSystem)
		if h.Self != src.Self && h.Runtime.ConnectionState == types.HostSystemConnectionStateConnected && !h.Runtime.InMaintenanceMode {
			out = append(out, h)
		}
	}
	return out
}
