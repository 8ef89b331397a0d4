package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Where a migration goes: the host and resource pool arguments of
// MigrateVM_Task, RelocateVM_Task (spec.host, spec.pool), CheckMigrate_Task and
// CheckRelocate_Task, resolved as the vSphere API reference says for each:
//
//   - pool unset: "the virtual machine's current pool is used as the target pool"
//     (MigrateVM_Task pool; VirtualMachineRelocateSpec.pool; CheckMigrate_Task pool);
//   - host and pool "not associated with the same compute resource": InvalidArgument;
//   - host unset: the pool's stand-alone host is used; in a DRS-enabled cluster
//     DRS selects a host (MigrateVM_Task, RelocateSpec.host), or "each connected
//     host in the cluster that is not in maintenance mode is tested"
//     (CheckMigrate_Task); a cluster without DRS: InvalidArgument;
//   - a DRS cluster with no connected host out of maintenance mode:
//     NoActiveHostInCluster (MigrateVM_Task).
//
// A RelocateSpec that names neither host nor pool keeps the VM's host ("if
// resource pool is not specified, current host is used"); MigrateVM_Task and
// CheckMigrate_Task with neither use the current pool's rules.

// placement is a resolved target: the pool, and the hosts to test or move to
// (one for a migration; several when CheckMigrate_Task tests a DRS cluster).
type placement struct {
	pool  *types.ManagedObjectReference
	hosts []*simulator.HostSystem
	drs   bool // host unset in a DRS cluster: DRS picks one of hosts
}

// argFields names the arguments in faults: "host"/"pool" for MigrateVM_Task and
// CheckMigrate_Task, "spec.host"/"spec.pool" for the RelocateSpec methods.
type argFields struct{ host, pool string }

var (
	migrateArgs  = argFields{"host", "pool"}
	relocateArgs = argFields{"spec.host", "spec.pool"}
)

func invalidArgument(property, format string, args ...interface{}) *types.LocalizedMethodFault {
	return &types.LocalizedMethodFault{Fault: &types.InvalidArgument{InvalidProperty: property},
		LocalizedMessage: fmt.Sprintf("A specified parameter was not correct: %s. ", property) + fmt.Sprintf(format, args...)}
}

// computeResourceOf is the compute resource (cluster or stand-alone host's) that owns a pool, and its hosts.
func poolOwner(pool types.ManagedObjectReference) (types.ManagedObjectReference, []types.ManagedObjectReference, bool) {
	p, ok := simulator.Map.Get(pool).(*simulator.ResourcePool)
	if !ok {
		return types.ManagedObjectReference{}, nil, false
	}
	switch o := simulator.Map.Get(p.Owner).(type) {
	case *simulator.ClusterComputeResource:
		return o.Self, o.Host, true
	case *mo.ComputeResource:
		return o.Self, o.Host, true
	}
	return p.Owner, nil, true
}

// resolvePlacement applies the host and pool rules. host may be nil; pool nil means the VM's current pool.
func resolvePlacement(vm *simulator.VirtualMachine, host *simulator.HostSystem, pool *types.ManagedObjectReference,
	args argFields) (placement, *types.LocalizedMethodFault) {
	given := pool != nil
	if host == nil && pool == nil && vm.Config != nil && vm.Config.Template && args == migrateArgs {
		// "If the virtual machine is a template then either this parameter or the pool parameter must be set"
		return placement{}, invalidArgument(args.host, "A template's migration names a host or a pool.")
	}
	if pool == nil {
		if host == nil && args == relocateArgs {
			return placement{hosts: []*simulator.HostSystem{hostOf(vm)}}, nil // the VM stays on its host and in its pool
		}
		pool = vm.ResourcePool
	}
	if pool == nil { // a VM outside any pool (a template): only its host counts
		if host == nil {
			host = hostOf(vm)
		}
		return placement{hosts: []*simulator.HostSystem{host}}, nil
	}
	owner, members, ok := poolOwner(*pool)
	if !ok {
		return placement{}, notFound(*pool)
	}
	if host != nil {
		if host.Parent == nil || *host.Parent != owner {
			which := "the pool given"
			if !given {
				which = "the virtual machine's current pool, used when no pool is given,"
			}
			return placement{}, invalidArgument(args.pool,
				"The host %s and %s (%s) are not associated with the same compute resource: give a pool of %s's cluster or host.",
				host.Name, which, entityName(*pool), host.Name)
		}
		return placement{pool: pool, hosts: []*simulator.HostSystem{host}}, nil
	}
	// no host: a stand-alone host's pool names its host; a DRS cluster picks; any other cluster cannot
	if owner.Type == "ComputeResource" && len(members) > 0 {
		h, ok := simulator.Map.Get(members[0]).(*simulator.HostSystem)
		if !ok {
			return placement{}, notFound(members[0])
		}
		return placement{pool: pool, hosts: []*simulator.HostSystem{h}}, nil
	}
	cl, ok := simulator.Map.Get(owner).(*simulator.ClusterComputeResource)
	if !ok || !drsEnabled(cl) {
		return placement{}, invalidArgument(args.host,
			"No host was given, and the pool %s belongs to %s, a cluster without DRS: name the target host.",
			entityName(*pool), entityName(owner))
	}
	var hosts []*simulator.HostSystem
	for _, ref := range cl.Host {
		h := simulator.Map.Get(ref).(*simulator.HostSystem)
		if h.Runtime.ConnectionState == types.HostSystemConnectionStateConnected && !h.Runtime.InMaintenanceMode {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 { // NoActiveHostInCluster is an InvalidState, which CheckMigrate_Task also lists
		return placement{}, &types.LocalizedMethodFault{Fault: &types.NoActiveHostInCluster{ComputeResource: cl.Self},
			LocalizedMessage: fmt.Sprintf("The cluster %s has no host that is connected and not in maintenance mode.", cl.Name)}
	}
	return placement{pool: pool, hosts: hosts, drs: true}, nil
}

func drsEnabled(cl *simulator.ClusterComputeResource) bool {
	if cl.ConfigurationEx == nil {
		return false
	}
	cfg, ok := cl.ConfigurationEx.(*types.ClusterConfigInfoEx)
	return ok && cfg.DrsConfig.Enabled != nil && *cfg.DrsConfig.Enabled
}

// drsPick is the host DRS moves the VM to when no host is given: its own host when that is a candidate, else
// the candidate the checks pass with the most unreserved memory (as the lab's maintenance-mode evacuation ranks
// them).
func drsPick(vm *simulator.VirtualMachine, p placement) (*simulator.HostSystem, *types.LocalizedMethodFault) {
	src := hostOf(vm)
	for _, h := range p.hosts {
		if h.Self == src.Self { // DRS moves no VM that may stay: a pool of its own cluster keeps it on its host
			return h, nil
		}
	}
	best := roomiest(vm, src, p.hosts, p.pool)
	if best == nil { // none passes: try the first, whose checks then say why
		best = p.hosts[0]
	}
	return best, nil
}
