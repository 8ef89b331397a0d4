"""Waiting on tasks: results, failures as readable faults, timeouts, progress."""
import threading
import time

import pytest
from helpers import find_vm
from pyVmomi import vim, vmodl

import labkit
from labkit.errors import TaskFailed, TaskTimeout
from labkit.tasks import wait_for_task


def _new_task(session, vm, cancelable=True):
    info = session.content.taskManager.CreateTask(obj=vm, taskTypeId="labkit.test", initiatedBy="tests",
                                                cancelable=cancelable)
    return info.task


def test_a_task_that_succeeds_returns_its_result(fresh_lab):
    with labkit.connect() as s:
        vm = find_vm(s, "DC0_H0_VM0")
        assert s.change(vm, "PowerOffVM_Task") is None
        assert vm.runtime.powerState == "poweredOff"


def test_a_failed_task_names_the_fault(fresh_lab):
    with labkit.connect() as s:
        vm = find_vm(s, "DC0_H0_VM1")
        with pytest.raises(TaskFailed) as err:
            s.change(vm, "PowerOnVM_Task")  # it is already on
    assert err.value.fault_type == "InvalidPowerState"
    assert str(err.value) == ("VirtualMachine.powerOn on DC0_H0_VM1 failed: InvalidPowerState: "
                              "requestedState: poweredOn, existingState: poweredOn")
    assert isinstance(err.value.fault, vim.fault.InvalidPowerState)


def test_a_task_that_never_ends_times_out(session):
    task = _new_task(session, find_vm(session, "DC0_H0_VM0"))
    task.SetTaskState(state="running")
    t0 = time.monotonic()
    with pytest.raises(TaskTimeout) as err:
        wait_for_task(session, task, timeout=1.5, progress=False)
    assert 1.4 < time.monotonic() - t0 < 6
    assert str(err.value) == ("labkit.test on DC0_H0_VM0 did not finish within 1.5 s; it may still be running in "
                              "vCenter. Fix: look at Recent Tasks, or wait longer with timeout=")
    task.SetTaskState(state="success")


def test_progress_and_result_come_from_updates(session, capsys):
    task = _new_task(session, find_vm(session, "DC0_H0_VM0"))

    def drive():
        s2 = labkit.connect()
        t = vim.Task(task._moId, s2.si._stub)
        t.SetTaskState(state="running")
        for pct in (10, 40, 70, 100):
            time.sleep(0.4)
            t.UpdateProgress(pct)
        t.SetTaskState(state="success", result="done")
        s2.close()

    worker = threading.Thread(target=drive)
    worker.start()
    assert wait_for_task(session, task, timeout=30) == "done"
    worker.join()
    err = capsys.readouterr().err
    assert "labkit.test on DC0_H0_VM0" in err and "100%" in err  # the bar appeared after its 1 s delay


def test_a_task_failed_by_its_owner(session):
    task = _new_task(session, find_vm(session, "DC0_H0_VM0"))
    task.SetTaskState(state="running")
    task.SetTaskState(state="error", fault=vmodl.MethodFault(msg="the lab said no"))
    with pytest.raises(TaskFailed) as err:
        wait_for_task(session, task, timeout=5, progress=False)
    assert str(err.value) == "labkit.test on DC0_H0_VM0 failed: MethodFault: the lab said no"


def test_create_task_rules(session):
    task = _new_task(session, find_vm(session, "DC0_H0_VM0"), cancelable=False)
    with pytest.raises(vim.fault.InvalidState):
        task.UpdateProgress(5)  # not running yet
    task.SetTaskState(state="running")
    with pytest.raises(vmodl.fault.InvalidArgument):
        task.SetTaskState(state="error")  # an error needs its fault
    with pytest.raises(vmodl.fault.NotSupported):
        task.CancelTask()
    task.SetTaskState(state="success")
    with pytest.raises(vim.fault.InvalidState):
        task.SetTaskState(state="running")
    assert task in session.content.taskManager.recentTask
