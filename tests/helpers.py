"""Small helpers shared by the tests."""
import contextlib
import os
import random
import socket
import subprocess
import sys


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a test starts, below the kernel's ephemeral range.

    A port the kernel hands out for port 0 is in /proc/sys/net/ipv4/ip_local_port_range (32768-60999 here),
    the range every kernel, simulator and outgoing connection of a busy test run also draws from: between the
    test's check and the server's bind, one of those can take it. A random port below that range is free of
    them; it is still bound once to check that it is free now.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError), open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def run_cli(*args, env=None, timeout=120, process=False):
    """`labkit ARGS` as a CompletedProcess: by default in this process (cli.main, as the entry point calls it),
    which spares each call a Python start and labkit's imports; ``process=True`` (or an ``env``) runs the
    command in a process of its own."""
    if process or env:
        return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=timeout)
    import io

    from labkit import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as e:  # argparse's own exit
            code = e.code
    return subprocess.CompletedProcess(["labkit", *args], code, out.getvalue(), err.getvalue())


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
    """A fresh session on a pristine scenario; migrations run fast unless flags say otherwise (-migration-seconds
    for what the pre-copy model does not time, -time-scale for vMotions)."""
    import labkit

    if not any(f == "-migration-seconds" for f in flags):
        flags = ("-migration-seconds", "0.02", *flags)
    if not any(f == "-time-scale" for f in flags):  # a 4 GiB idle VM's vMotion: 3.7 simulated s, 4 ms here
        flags = ("-time-scale", "1000", *flags)
    return labkit.connect(scenario=scenario, sim_flags=list(flags))


def by_name(session, kind):
    return {o.name: o for o in all_of(session, kind)}


def fault_names(faults):
    return sorted(type(f).__name__.split(".")[-1] for f in (faults or []))


def pool_for(session, vm, host):
    """The pool a move of ``vm`` to ``host`` (names) needs: the destination's root pool when it is another
    compute resource than the VM's pool, else None (API reference, MigrateVM_Task: host and pool of one
    compute resource)."""
    from labkit import inventory
    from labkit.troubleshoot import _pool_for

    return _pool_for(session, inventory.find(session, vm, "VirtualMachine"), inventory.find(session, host, "HostSystem"))


def replay_matches(session, folder, vms=None, before=None):
    """Capture ``session``'s world as a real vCenter would be captured (anonymised; only reads, proven on the lab's
    served-method log), replay the capture in a new lab world, and require vCenter's verdict
    (QueryVMotionCompatibilityEx_Task) on every pair of ``vms`` (all when None) and every host to be the same before
    and after, through the mapping's names. ``before`` is vCenter's table for the original world when the caller has
    read it already (labkit.compat.vcenter). Returns the capture."""
    import labkit
    from labkit import capture, compat, labapi, readonly

    def verdicts(table):
        return {(r.vm, r.host): (tuple(r.errors), tuple(r.warnings)) for r in table.itertuples()}

    _, mark = labapi.served_methods(session)
    result = capture.capture(session)
    assert readonly.violations(labapi.served_methods(session, since=mark)[0]) == []
    path = folder / "captured.yaml"
    capture.write(result, path)
    real = {kind: {r: p for p, r in table.items()} for kind, table in result.mapping["names"].items()}
    original = verdicts(before if before is not None else compat.vcenter(session, vms=vms))
    with labkit.connect(scenario=str(path), sim_flags=["-migration-seconds", "0.02"]) as replay:
        after = verdicts(compat.vcenter(replay, vms=None if vms is None else [real["vm"][v] for v in vms]))
    renamed = {(real["vm"][vm], real["host"][host]): v for (vm, host), v in original.items()}
    assert len(renamed) == len(original) > 0
    assert after == renamed
    return result
