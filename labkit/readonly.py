"""Which vSphere API methods only read: the allow-list a read-only tool (an audit of a real vCenter) may call.

A method reads when its name says it does in the vSphere API's own naming: ``Retrieve*`` and ``Query*`` return
data, ``Check*`` run vCenter's checks without acting on them (CheckMigrate_Task: "Tests the feasibility of a
proposed MigrateVM_Task operation", API reference, VirtualMachineProvisioningChecker), ``Find*`` search the
inventory (SearchIndex), ``Browse*`` read logs and datastores, ``WaitForUpdates*`` wait for changes. A client
also needs its session (``Login``, ``Logout``, ``SessionIsActive``, ``RetrieveServiceContent``, ``CurrentTime``)
and the views and property filters it reads through, which live in its own session and change nothing in the
inventory (ViewManager.CreateContainerView, "A view is a session object"; PropertyCollector.CreateFilter), and
``Fetch``, the call in which pyVmomi reads one property of one object (``vm.name``). Every other method may
change something, and is not allowed.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

#: name prefixes of reading methods
PREFIXES = ("Retrieve", "Query", "Check", "Find", "Browse", "WaitForUpdates", "ContinueRetrieveProperties",
            "CancelRetrieveProperties")
#: session calls, and the session objects a client reads through
SESSION = frozenset({
    "Login", "LoginByToken", "LoginExtensionByCertificate", "Logout", "SessionIsActive", "CurrentTime",
    "CreateContainerView", "CreateListView", "CreateInventoryView", "DestroyView",
    "CreatePropertyCollector", "DestroyPropertyCollector", "CreateFilter", "DestroyPropertyFilter",
    "CancelWaitForUpdates", "Fetch",
})
_READ = re.compile(rf"^({'|'.join(PREFIXES)})")


def reads(method: str) -> bool:
    """Whether ``method`` (a SOAP method name, "RetrievePropertiesEx") only reads."""
    return method in SESSION or bool(_READ.match(method))


def violations(methods: Iterable[str]) -> list[str]:
    """The methods of ``methods`` that may change something, each once, in the order first called."""
    return list(dict.fromkeys(m for m in methods if not reads(m)))
