package main

import (
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator package has no TaskManager.CreateTask, the API through which a
// vCenter extension publishes a long-running operation of its own and then
// drives it with Task.UpdateProgress and Task.SetTaskState. The lab serves all
// three, so a lesson or a test can hold a task in any state for as long as it
// needs: a task that never ends, one that fails with a chosen fault.

const recentTaskMax = 200

type taskManager struct {
	mo.TaskManager

	mu sync.Mutex
}

func serviceContent() types.ServiceContent {
	return simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance).Content
}

// installTaskManager replaces the simulator's TaskManager by one that also
// serves CreateTask, and takes over keeping recentTask up to date.
func installTaskManager() {
	ref := *serviceContent().TaskManager
	orig := simulator.Map.Get(ref).(*simulator.TaskManager)
	m := &taskManager{TaskManager: orig.TaskManager}
	simulator.Map.RemoveHandler(orig)
	simulator.Map.Put(m)
	simulator.Map.AddHandler(m)
}

func (m *taskManager) PutObject(obj mo.Reference) {
	ref := obj.Reference()
	if ref.Type != "Task" {
		return
	}
	nameEntity(obj)
	m.mu.Lock()
	defer m.mu.Unlock()
	addToEntity(obj)
	for _, r := range m.RecentTask {
		if r == ref {
			return // a task object replaced under the same reference
		}
	}
	recent := append(m.RecentTask, ref)
	if len(recent) > recentTaskMax {
		recent = recent[1:]
	}
	simulator.Map.Update(m, []types.PropertyChange{{Name: "recentTask", Val: recent}})
}

// addToEntity lists a new task in its entity's recentTask too: "the set of
// recent tasks operating on this managed entity", a subset of
// TaskManager.recentTask (API reference, ManagedEntity.recentTask), so a VM
// shows its migrations. The simulator package keeps only the TaskManager's.
func addToEntity(obj mo.Reference) {
	info := taskInfo(obj)
	if info == nil || info.Entity == nil {
		return
	}
	e, ok := simulator.Map.Get(*info.Entity).(mo.Entity)
	if !ok {
		return
	}
	self := obj.Reference()
	recent := []types.ManagedObjectReference{}
	for _, r := range e.Entity().RecentTask {
		if r == self {
			return
		}
		recent = append(recent, r)
	}
	recent = append(recent, self)
	if len(recent) > recentTaskMax {
		recent = recent[len(recent)-recentTaskMax:]
	}
	simulator.Map.Update(e, []types.PropertyChange{{Name: "recentTask", Val: recent}})
}

// taskInfo is the TaskInfo of a task object of either kind, or nil.
func taskInfo(obj mo.Reference) *types.TaskInfo {
	switch t := obj.(type) {
	case *simulator.Task:
		return &t.Info
	case *labTask:
		return &t.Info
	}
	return nil
}

// nameEntity gives a new task the name of its entity, as vCenter does; the
// simulator package puts the managed object id there.
func nameEntity(obj mo.Reference) {
	var info *types.TaskInfo
	switch t := obj.(type) {
	case *simulator.Task:
		info = &t.Info
	case *labTask:
		info = &t.Info
	default:
		return
	}
	if info.Entity == nil {
		return
	}
	if e, ok := simulator.Map.Get(*info.Entity).(mo.Entity); ok {
		info.EntityName = e.Entity().Name
	}
}

func (*taskManager) UpdateObject(mo.Reference, []types.PropertyChange) {}
func (*taskManager) RemoveObject(types.ManagedObjectReference)         {}

func (m *taskManager) CreateTask(ctx *simulator.Context, req *types.CreateTask) soap.HasFault {
	body := &methods.CreateTaskBody{}
	entity, ok := simulator.Map.Get(req.Obj).(mo.Entity)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.Obj})
		return body
	}
	if req.TaskTypeId == "" {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "taskTypeId"})
		return body
	}
	user := req.InitiatedBy
	if user == "" && ctx.Session != nil {
		user = ctx.Session.UserName
	}

	t := newTask(req.Obj, entity.Entity().Name, req.TaskTypeId, req.Cancelable, user)
	t.Info.ParentTaskKey = req.ParentTaskKey
	t.Info.ActivationId = req.ActivationId
	body.Res = &types.CreateTaskResponse{Returnval: t.Info}
	return body
}

// taskMethod is the WSDL name of the API method behind each of the lab's own
// operations, keyed by its descriptionId. vCenter reports a task's
// TaskInfo.name as that method (type vmodl.MethodName), and clients resolve it:
// pyVim's WaitForTask reads info.name.info.name and fails on a name it cannot
// resolve. TaskInfo.descriptionId keeps the "Type.operation" identifier
// (vSphere API reference, TaskInfo). A task made through CreateTask has no
// method behind it, and so no name.
var taskMethod = map[string]string{
	"VirtualMachine.relocate":                                       "RelocateVM_Task",
	"VirtualMachine.migrate":                                        "MigrateVM_Task",
	"VirtualMachineProvisioningChecker.checkMigrate":                "CheckMigrate_Task",
	"VirtualMachineProvisioningChecker.checkRelocate":               "CheckRelocate_Task",
	"VirtualMachineProvisioningChecker.queryVMotionCompatibilityEx": "QueryVMotionCompatibilityEx_Task",
	"HostSystem.enterMaintenanceMode":                               "EnterMaintenanceMode_Task",
	"HostSystem.exitMaintenanceMode":                                "ExitMaintenanceMode_Task",
	"HostSystem.disconnect":                                         "DisconnectHost_Task",
	"HostSystem.reconnect":                                          "ReconnectHost_Task",
	"host.VsanSystem.update":                                        "UpdateVsan_Task",
	"ClusterEVCManager.configureEvcMode":                            "ConfigureEvcMode_Task",
	"ClusterEVCManager.disableEvcMode":                              "DisableEvcMode_Task",
	"ClusterEVCManager.checkConfigureEvcMode":                       "CheckConfigureEvcMode_Task",
}

// newTask registers a queued task on an entity; the lab's own long-running
// operations (migrations, maintenance mode) drive it like CreateTask's caller.
func newTask(obj types.ManagedObjectReference, entityName, id string, cancelable bool, user string) *labTask {
	t := &labTask{}
	t.Self = types.ManagedObjectReference{Type: "Task"}
	t.Info = types.TaskInfo{
		Name:          taskMethod[id],
		DescriptionId: id,
		Entity:        &obj,
		EntityName:    entityName,
		State:         types.TaskInfoStateQueued,
		Cancelable:    cancelable,
		Reason:        &types.TaskReasonUser{UserName: user},
		QueueTime:     time.Now(),
	}
	simulator.Map.Put(t)
	simulator.Map.Update(t, []types.PropertyChange{
		{Name: "info.key", Val: t.Self.Value},
		{Name: "info.task", Val: t.Self},
	})
	return t
}

func (t *labTask) set(changes ...types.PropertyChange) {
	simulator.Map.WithLock(t, func() { simulator.Map.Update(t, changes) })
}

func (t *labTask) start() {
	t.set(types.PropertyChange{Name: "info.startTime", Val: time.Now()},
		types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateRunning},
		types.PropertyChange{Name: "info.progress", Val: int32(0)})
}

// startOnce starts the task unless it has started already.
func (t *labTask) startOnce() {
	var queued bool
	simulator.Map.WithLock(t, func() { queued = t.Info.State == types.TaskInfoStateQueued })
	if queued {
		t.start()
	}
}

func (t *labTask) progress(pct int32) {
	t.set(types.PropertyChange{Name: "info.progress", Val: pct})
}

func (t *labTask) succeed(result types.AnyType) {
	t.set(types.PropertyChange{Name: "info.progress", Val: int32(100)},
		types.PropertyChange{Name: "info.result", Val: result},
		types.PropertyChange{Name: "info.completeTime", Val: time.Now()},
		types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateSuccess})
}

func (t *labTask) failWith(f types.LocalizedMethodFault) {
	t.set(types.PropertyChange{Name: "info.error", Val: &f},
		types.PropertyChange{Name: "info.completeTime", Val: time.Now()},
		types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateError})
}

func (t *labTask) cancelled() bool {
	var c bool
	simulator.Map.WithLock(t, func() { c = t.Info.Cancelled })
	return c
}

// labTask is a task created through CreateTask and driven by its creator.
type labTask struct {
	mo.Task
}

func (t *labTask) done() bool {
	return t.Info.State == types.TaskInfoStateSuccess || t.Info.State == types.TaskInfoStateError
}

func (t *labTask) UpdateProgress(req *types.UpdateProgress) soap.HasFault {
	body := &methods.UpdateProgressBody{}
	switch {
	case t.Info.State != types.TaskInfoStateRunning:
		body.Fault_ = simulator.Fault("the task is not running", &types.InvalidState{})
	case req.PercentDone < 0 || req.PercentDone > 100:
		body.Fault_ = simulator.Fault("", &types.OutOfBounds{ArgumentName: "percentDone"})
	default:
		simulator.Map.Update(t, []types.PropertyChange{{Name: "info.progress", Val: req.PercentDone}})
		body.Res = &types.UpdateProgressResponse{}
	}
	return body
}

func (t *labTask) SetTaskState(req *types.SetTaskState) soap.HasFault {
	body := &methods.SetTaskStateBody{}
	if t.done() {
		body.Fault_ = simulator.Fault("the task has already completed", &types.InvalidState{})
		return body
	}
	now := time.Now()
	var changes []types.PropertyChange
	switch req.State {
	case types.TaskInfoStateQueued:
	case types.TaskInfoStateRunning:
		changes = append(changes, types.PropertyChange{Name: "info.startTime", Val: now})
	case types.TaskInfoStateSuccess:
		changes = append(changes,
			types.PropertyChange{Name: "info.result", Val: req.Result},
			types.PropertyChange{Name: "info.completeTime", Val: now})
	case types.TaskInfoStateError:
		if req.Fault == nil {
			body.Fault_ = simulator.Fault("a task in state error needs a fault", &types.InvalidArgument{InvalidProperty: "fault"})
			return body
		}
		changes = append(changes,
			types.PropertyChange{Name: "info.error", Val: req.Fault},
			types.PropertyChange{Name: "info.completeTime", Val: now})
	default:
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "state"})
		return body
	}
	changes = append(changes, types.PropertyChange{Name: "info.state", Val: req.State})
	simulator.Map.Update(t, changes)
	body.Res = &types.SetTaskStateResponse{}
	return body
}

func (t *labTask) CancelTask(req *types.CancelTask) soap.HasFault {
	body := &methods.CancelTaskBody{}
	switch {
	case !t.Info.Cancelable:
		body.Fault_ = simulator.Fault("the task cannot be cancelled", &types.NotSupported{})
	case t.done():
		body.Fault_ = simulator.Fault("the task has already completed", &types.InvalidState{})
	default:
		// As on vCenter, cancelling asks the task's owner to stop; the owner
		// then ends the task with SetTaskState.
		simulator.Map.Update(t, []types.PropertyChange{{Name: "info.cancelled", Val: true}})
		body.Res = &types.CancelTaskResponse{}
	}
	return body
}
