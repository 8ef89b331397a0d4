"""Small helpers shared by the tests."""
import os
import socket
import subprocess
import sys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def all_of(session, kind):
    """Every managed object of a type, the plain pyVmomi way."""
    view = session.content.viewManager.CreateContainerView(session.content.rootFolder, [kind], True)
    try:
        return list(view.view)
    finally:
        view.DestroyView()


def find_vm(session, name):
    from pyVmomi import vim

    return next(v for v in all_of(session, vim.VirtualMachine) if v.name == name)


def lab_world(scenario, *flags):
    """A fresh session on a pristine scenario; migrations run fast unless flags say otherwise."""
    import labkit

    if not any(f == "-migration-seconds" for f in flags):
        flags = ("-migration-seconds", "0.02", *flags)
    return labkit.connect(scenario=scenario, sim_flags=list(flags))


def by_name(session, kind):
    return {o.name: o for o in all_of(session, kind)}


def fault_names(faults):
    return sorted(type(f).__name__.split(".")[-1] for f in (faults or []))
