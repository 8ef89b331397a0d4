package main

import (
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Migrations: RelocateVM_Task and MigrateVM_Task check the move with the same
// rules as CheckMigrate_Task, then run it as a task whose progress advances
// as the lab's pre-copy model says (flight.go) or, for what it does not time, over the lab's fixed migration
// time; they wait their turn under vCenter's limits (admission.go), do vCenter's bookkeeping (host, pool,
// datastore and file moves, the back references on hosts, pools and
// datastores) and post the events vCenter posts.

const defaultMigrationSeconds = 0.3

type migrationKind int

const (
	kindMigrate  migrationKind = iota // MigrateVM_Task
	kindRelocate                      // RelocateVM_Task
	kindDRS                           // an evacuation for maintenance mode
)

// lookup finds the routed VM and the destination host (nil when none is given),
// or the fault to answer with.
func (r *vmRouter) lookup(host *types.ManagedObjectReference) (*simulator.VirtualMachine, *simulator.HostSystem, *soap.Fault) {
	vm, f := getVM(r.target())
	if f == nil {
		var dest *simulator.HostSystem
		if dest, f = getHost(host); f == nil {
			return vm, dest, nil
		}
	}
	return nil, nil, simulator.Fault(f.LocalizedMessage, f.Fault)
}

func (r *vmRouter) RelocateVMTask(ctx *simulator.Context, req *types.RelocateVM_Task) soap.HasFault {
	body := &methods.RelocateVM_TaskBody{}
	vm, dest, fault := r.lookup(req.Spec.Host)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	if req.Spec.Datastore != nil {
		if _, ok := simulator.Map.Get(*req.Spec.Datastore).(*simulator.Datastore); !ok {
			body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: *req.Spec.Datastore})
			return body
		}
	}
	t := startMigration(ctx, vm, dest, req.Spec.Datastore, req.Spec.Pool, kindRelocate, "VirtualMachine.relocate")
	body.Res = &types.RelocateVM_TaskResponse{Returnval: t.Self}
	return body
}

func (r *vmRouter) MigrateVMTask(ctx *simulator.Context, req *types.MigrateVM_Task) soap.HasFault {
	body := &methods.MigrateVM_TaskBody{}
	vm, dest, fault := r.lookup(req.Host)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	if vm.Config != nil && vm.Config.Template { // NotSupported "if the virtual machine is marked as a template"
		body.Fault_ = simulator.Fault("A template cannot be migrated with MigrateVM_Task; relocate it.", &types.NotSupported{})
		return body
	}
	if f := powerStateArgument(vm, req.State); f != nil {
		t := newTask(vm.Self, vm.Name, "VirtualMachine.migrate", false, userOf(ctx))
		go func() {
			t.start()
			t.failWith(*f)
		}()
		body.Res = &types.MigrateVM_TaskResponse{Returnval: t.Self}
		return body
	}
	if req.Pool != nil {
		if _, ok := simulator.Map.Get(*req.Pool).(*simulator.ResourcePool); !ok {
			body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: *req.Pool})
			return body
		}
	}
	t := startMigration(ctx, vm, dest, nil, req.Pool, kindMigrate, "VirtualMachine.migrate")
	body.Res = &types.MigrateVM_TaskResponse{Returnval: t.Self}
	return body
}

// powerStateArgument: "If specified, the virtual machine migrates only if its state matches the specified state";
// InvalidPowerState "if the state argument is set and the virtual machine does not have that power state" (API
// reference, MigrateVM_Task; CheckMigrate_Task takes the same argument).
func powerStateArgument(vm *simulator.VirtualMachine, state types.VirtualMachinePowerState) *types.LocalizedMethodFault {
	if state == "" || state == vm.Runtime.PowerState {
		return nil
	}
	return &types.LocalizedMethodFault{Fault: &types.InvalidPowerState{RequestedState: state, ExistingState: vm.Runtime.PowerState},
		LocalizedMessage: fmt.Sprintf("The virtual machine %s is %s, not %s as the request says.", vm.Name, vm.Runtime.PowerState, state)}
}

// migrating holds, for each VM being migrated, its migration's task: vCenter runs one operation on a VM at a
// time, and answers another with TaskInProgress ("An operation cannot be performed because of a task in
// progress on the object", API reference, vim.fault.TaskInProgress).
var migrating sync.Map // VM reference -> task reference

// busy is the fault for an operation on a VM whose migration is running, or nil.
func busy(vm *simulator.VirtualMachine) *types.LocalizedMethodFault {
	task, ok := migrating.Load(vm.Self)
	if !ok {
		return nil
	}
	ref := task.(types.ManagedObjectReference)
	return &types.LocalizedMethodFault{Fault: &types.TaskInProgress{Task: ref},
		LocalizedMessage: fmt.Sprintf("%s is being migrated (task %s): another operation on it waits until that task ends.", vm.Name, ref.Value)}
}

// startMigration creates the task and runs the migration behind it.
func startMigration(ctx *simulator.Context, vm *simulator.VirtualMachine, dest *simulator.HostSystem,
	datastore, pool *types.ManagedObjectReference, kind migrationKind, id string) *labTask {
	if f := busy(vm); f != nil {
		return refusedLabTask(ctx, vm, id, *f)
	}
	t := newTask(vm.Self, vm.Name, id, false, userOf(ctx))
	if _, running := migrating.LoadOrStore(vm.Self, t.Self); running {
		f := busy(vm)
		t.start()
		t.failWith(*f)
		return t
	}
	args := migrateArgs
	if kind == kindRelocate {
		args = relocateArgs
	}
	go func() {
		defer migrating.Delete(vm.Self)
		var p placement
		var err *types.LocalizedMethodFault
		with(vm, func() { p, err = resolvePlacement(vm, dest, pool, args) })
		if err == nil && dest == nil && p.drs {
			with(vm, func() { dest, err = drsPick(vm, p) })
		} else if err == nil && dest == nil && len(p.hosts) == 1 {
			dest = p.hosts[0]
		}
		if err == nil {
			err = migrate(ctx, t, vm, dest, datastore, p.pool, kind)
		}
		t.startOnce() // a task refused before it ran has started and ended too
		if err != nil {
			t.failWith(*err)
			return
		}
		t.succeed(nil)
	}()
	return t
}

// refusedLabTask is a migration task that fails at once with f.
func refusedLabTask(ctx *simulator.Context, vm *simulator.VirtualMachine, id string, f types.LocalizedMethodFault) *labTask {
	t := newTask(vm.Self, vm.Name, id, false, userOf(ctx))
	go func() {
		t.start()
		t.failWith(f)
	}()
	return t
}

// migrate checks and performs one migration, reporting progress on t.
func migrate(ctx *simulator.Context, t *labTask, vm *simulator.VirtualMachine, dest *simulator.HostSystem,
	datastore, pool *types.ManagedObjectReference, kind migrationKind) *types.LocalizedMethodFault {
	m, err := prepare(ctx, t, vm, dest, datastore, pool, kind)
	if err != nil {
		return err
	}
	if m.slot != nil {
		admit.request(m.slot)
	}
	return m.run(ctx, t)
}

// migration is one checked migration, waiting for its turn or running.
type migration struct {
	vm              *simulator.VirtualMachine
	src, dest       *simulator.HostSystem
	datastore, pool *types.ManagedObjectReference
	kind            migrationKind
	hot             bool         // the VM is powered on
	slot            *slotRequest // what it costs against vCenter's limits (nil: not counted)
}

// prepare runs the checks; a refused migration starts its task (t, when there is one), posts VmFailedMigrateEvent
// and returns its first error. A migration that passes leaves its task queued until its turn comes (run).
func prepare(ctx *simulator.Context, t *labTask, vm *simulator.VirtualMachine, dest *simulator.HostSystem,
	datastore, pool *types.ManagedObjectReference, kind migrationKind) (*migration, *types.LocalizedMethodFault) {
	var v verdict
	m := &migration{vm: vm, dest: dest, datastore: datastore, pool: pool, kind: kind}
	with(vm, func() {
		m.src = hostOf(vm)
		v = check(move{vm: vm, src: m.src, dest: dest, datastore: datastore, pool: pool}, nil)
		m.hot = poweredOn(vm)
	})
	if m.dest == nil {
		m.dest = m.src
	}
	if len(v.errors) > 0 {
		if t != nil {
			t.startOnce()
		}
		postEvents(ctx, &types.VmFailedMigrateEvent{VmEvent: vmEvent(vm, m.src), DestHost: hostArg(m.dest), Reason: v.errors[0]})
		return nil, &v.errors[0]
	}
	m.slot = m.slotRequest()
	return m, nil
}

// slotRequest: what a migration of a powered-on VM costs (costs.go); nil for a powered-off or suspended VM
// (the limits page's tables count vMotion and Storage vMotion) and for a move that changes nothing.
func (m *migration) slotRequest() *slotRequest {
	if !m.hot {
		return nil
	}
	hostChange := m.dest.Self != m.src.Self
	storageChange := m.datastore != nil && !containsRef(m.vm.Datastore, *m.datastore)
	r := &slotRequest{src: m.src.Self, dest: m.dest.Self,
		srcClass: linkClass(vmotionLinkMbps(m.src)), destClass: linkClass(vmotionLinkMbps(m.dest))}
	switch {
	case hostChange && storageChange:
		r.kind = kindWithoutShared
	case hostChange:
		r.kind = kindVMotion
	case storageChange:
		r.kind = kindStorage
	default:
		return nil
	}
	if ds := firstDatastore(m.vm.Datastore); ds != nil {
		r.datastores = append(r.datastores, *ds)
	}
	if storageChange {
		r.datastores = append(r.datastores, *m.datastore)
	}
	return r
}

// memoryOnly: a vMotion that changes only the host, which the pre-copy model times.
func (m *migration) memoryOnly() bool {
	return m.slot != nil && m.slot.kind == kindVMotion
}

// run waits for the migration's turn, plays it out and applies it.
func (m *migration) run(ctx *simulator.Context, t *labTask) *types.LocalizedMethodFault {
	vm, src, dest := m.vm, m.src, m.dest
	share := 1
	if m.slot != nil {
		share = <-m.slot.ready // a task stays queued, without a start time, until its turn
		defer admit.release(m.slot)
	}
	if t != nil {
		t.startOnce()
	}
	chain := postEvents(ctx, beingMigrated(vm, src, dest, m.datastore, m.kind, m.hot))
	if m.memoryOnly() {
		if f := fly(t, vm, src, dest, m.slot, share); f != nil {
			postEvents(ctx, &types.VmFailedMigrateEvent{VmEvent: vmEvent(vm, src), DestHost: hostArg(dest), Reason: *f})
			return f
		}
	} else {
		fixedDuration(t)
	}
	// the world may have changed while the migration ran (the destination entering maintenance mode, another
	// VM taking its memory): vCenter's switchover needs the destination to take the VM now
	var v verdict
	with(vm, func() { v = check(move{vm: vm, src: src, dest: dest, datastore: m.datastore, pool: m.pool}, nil) })
	if len(v.errors) > 0 {
		postEvents(ctx, &types.VmFailedMigrateEvent{VmEvent: vmEvent(vm, src), DestHost: hostArg(dest), Reason: v.errors[0]})
		return &v.errors[0]
	}
	srcDatastores := vm.Datastore
	var moveErr error
	with(vm, func() {
		moveErr = apply(vm, src, dest, m.datastore, m.pool)
	})
	if moveErr != nil {
		f := types.LocalizedMethodFault{Fault: &types.MigrationFault{}, LocalizedMessage: moveErr.Error()}
		return &f
	}
	done := migrated(vm, src, srcDatastores, m.kind, m.hot)
	postEvents(ctx, done)
	done.GetEvent().ChainId = chain
	return nil
}

// fixedDuration runs a migration the pre-copy model does not time (cold, suspended, storage) over the lab's
// fixed migration time (-migration-seconds, a scenario's migrationSeconds; real seconds).
func fixedDuration(t *labTask) {
	// progress advances in steps of at least 50 ms of lab time, at most ten: a client sees each step as one
	// update, so a migration of a few milliseconds (the tests' worlds) is not ten round trips
	steps := int(lab.migration / 0.05)
	if steps > 10 {
		steps = 10
	} else if steps < 1 {
		steps = 1
	}
	for i := 1; i < steps; i++ {
		time.Sleep(time.Duration(lab.migration * float64(time.Second) / float64(steps)))
		if t != nil {
			t.progress(int32(i * 100 / steps))
		}
	}
	if steps == 1 {
		time.Sleep(time.Duration(lab.migration * float64(time.Second)))
	}
}

// -- bookkeeping -------------------------------------------------------------

func apply(vm *simulator.VirtualMachine, src, dest *simulator.HostSystem, datastore, pool *types.ManagedObjectReference) error {
	if datastore != nil && !containsRef(vm.Datastore, *datastore) {
		if err := moveStorage(vm, *datastore); err != nil {
			return err
		}
	}
	if dest.Self != src.Self {
		dropRef(src, "vm", &src.Vm, vm.Self)
		addRef(dest, "vm", &dest.Vm, vm.Self)
		simulator.Map.Update(vm, []types.PropertyChange{
			{Name: "runtime.host", Val: dest.Self},
			{Name: "summary.runtime.host", Val: dest.Self},
		})
	}
	target := pool // resolvePlacement has checked that it belongs to dest's compute resource
	if target != nil && (vm.ResourcePool == nil || *vm.ResourcePool != *target) {
		if vm.ResourcePool != nil {
			if old, ok := simulator.Map.Get(*vm.ResourcePool).(*simulator.ResourcePool); ok {
				dropRef(old, "vm", &old.Vm, vm.Self)
			}
		}
		if p, ok := simulator.Map.Get(*target).(*simulator.ResourcePool); ok {
			addRef(p, "vm", &p.Vm, vm.Self)
		}
		simulator.Map.Update(vm, []types.PropertyChange{{Name: "resourcePool", Val: *target}})
	}
	return nil
}

func datastorePath(ref types.ManagedObjectReference) (name, dir string) {
	ds := simulator.Map.Get(ref).(*simulator.Datastore)
	return ds.Name, ds.Info.GetDatastoreInfo().Url
}

// moveStorage moves the VM's folder to the target datastore and rewrites every
// path that names the old one: files, disk backings, layouts, datastore lists.
func moveStorage(vm *simulator.VirtualMachine, target types.ManagedObjectReference) error {
	oldPath := vm.Config.Files.VmPathName // "[ds] vm/vm.vmx"
	oldName := strings.TrimPrefix(strings.SplitN(oldPath, "]", 2)[0], "[")
	folder := strings.TrimSpace(path.Dir(strings.TrimSpace(strings.SplitN(oldPath, "]", 2)[1])))
	var oldRef types.ManagedObjectReference
	for _, ref := range vm.Datastore {
		if entityName(ref) == oldName {
			oldRef = ref
		}
	}
	newName, newDir := datastorePath(target)
	if oldRef.Value != "" {
		_, oldDir := datastorePath(oldRef)
		from, to := path.Join(oldDir, folder), path.Join(newDir, folder)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, to); err != nil {
				return fmt.Errorf("moving %s to %s: %v", from, to, err)
			}
		}
	}
	rename := func(s string) string {
		return strings.Replace(s, "["+oldName+"]", "["+newName+"]", 1)
	}
	files := vm.Config.Files
	files.VmPathName = rename(files.VmPathName)
	files.SnapshotDirectory = rename(files.SnapshotDirectory)
	files.SuspendDirectory = rename(files.SuspendDirectory)
	files.LogDirectory = rename(files.LogDirectory)
	vm.Config.Files = files
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				fb := b.GetVirtualDeviceFileBackingInfo()
				fb.FileName = rename(fb.FileName)
				ds := target
				fb.Datastore = &ds
			}
		}
	}
	if vm.Layout != nil {
		layout := *vm.Layout
		layout.ConfigFile = renameAll(layout.ConfigFile, rename)
		layout.LogFile = renameAll(layout.LogFile, rename)
		layout.SwapFile = rename(layout.SwapFile)
		var disks []types.VirtualMachineFileLayoutDiskLayout
		for _, dl := range layout.Disk {
			dl.DiskFile = renameAll(dl.DiskFile, rename)
			disks = append(disks, dl)
		}
		layout.Disk = disks
		vm.Layout = &layout
	}
	if vm.LayoutEx != nil {
		ex := *vm.LayoutEx
		var files []types.VirtualMachineFileLayoutExFileInfo
		for _, f := range ex.File {
			f.Name = rename(f.Name)
			files = append(files, f)
		}
		ex.File = files
		vm.LayoutEx = &ex
	}
	var keep []types.ManagedObjectReference
	for _, ref := range vm.Datastore {
		if ref != oldRef {
			keep = append(keep, ref)
		}
	}
	keep = append(keep, target)
	if oldRef.Value != "" {
		old := simulator.Map.Get(oldRef).(*simulator.Datastore)
		dropRef(old, "vm", &old.Vm, vm.Self)
	}
	nds := simulator.Map.Get(target).(*simulator.Datastore)
	addRef(nds, "vm", &nds.Vm, vm.Self)
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "datastore", Val: keep},
		{Name: "config.files", Val: vm.Config.Files},
		{Name: "summary.config.vmPathName", Val: files.VmPathName},
		{Name: "config.hardware.device", Val: vm.Config.Hardware.Device},
		{Name: "layout", Val: vm.Layout},
		{Name: "layoutEx", Val: vm.LayoutEx},
	})
	return nil
}

// addRef and dropRef change a list of references through a property change, so clients watching it
// (WaitForUpdatesEx) are told. They read the list under the object's lock: migrations that end together on one
// host must not overwrite each other's change.
func addRef(obj mo.Reference, name string, list *[]types.ManagedObjectReference, ref types.ManagedObjectReference) {
	simulator.Map.WithLock(obj, func() {
		if containsRef(*list, ref) {
			return
		}
		next := append(append([]types.ManagedObjectReference(nil), *list...), ref)
		simulator.Map.Update(obj, []types.PropertyChange{{Name: name, Val: next}})
	})
}

func dropRef(obj mo.Reference, name string, list *[]types.ManagedObjectReference, ref types.ManagedObjectReference) {
	simulator.Map.WithLock(obj, func() {
		var next []types.ManagedObjectReference
		for _, r := range *list {
			if r != ref {
				next = append(next, r)
			}
		}
		simulator.Map.Update(obj, []types.PropertyChange{{Name: name, Val: next}})
	})
}

func renameAll(list []string, f func(string) string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = f(s)
	}
	return out
}
