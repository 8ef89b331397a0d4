"""PropertyCollector helpers: many objects' properties in one round trip.

Reading ``vm.runtime.host`` on a pyVmomi object costs one SOAP call per
attribute per object. The PropertyCollector answers for all objects of several
types in one ``RetrievePropertiesEx`` call over a ContainerView, then hands
out further pages with ``ContinueRetrievePropertiesEx``. Everything labkit
reads in bulk goes through :func:`retrieve`.

vCenter may answer a read but leave out some properties of some objects: each
``ObjectContent`` then lists them in its ``missingSet``, one ``MissingProperty``
each, with the ``path`` and a ``fault``: "SecurityError if the logged in
session did not have permission to read the value", or "SystemError if there
was some unknown problem reading the value" (vSphere API reference,
``MissingProperty``). Such a property is absent from the object's dict, as an
unset one is; pass a ``missing`` list to learn which they were.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping

from pyVmomi import vim, vmodl

PC = vmodl.query.PropertyCollector


def _pages(pc, specs, page_size: int | None):
    options = PC.RetrieveOptions(maxObjects=page_size) if page_size else PC.RetrieveOptions()
    result = pc.RetrievePropertiesEx(specs, options)
    while result is not None:
        yield from result.objects
        if not result.token:
            break
        result = pc.ContinueRetrievePropertiesEx(result.token)


def _contents(pc, specs, page_size: int | None, missing: list | None,
              progress: Callable | None) -> Iterator[tuple[object, dict]]:
    """``(managed object, {path: value})`` per ObjectContent of every page; its ``missingSet`` entries appended to
    ``missing`` as ``("Type:moid", path, fault type name)``, ``progress(obj)`` called once it is read."""
    for oc in _pages(pc, specs, page_size):
        if missing is not None and oc.missingSet:
            where = f"{oc.obj._wsdlName}:{oc.obj._moId}"
            missing.extend((where, m.path, _fault_name(m.fault)) for m in oc.missingSet)
        yield oc.obj, {p.name: p.val for p in oc.propSet}
        if progress is not None:
            progress(oc.obj)


def _fault_name(fault) -> str:
    """``NoPermission`` for a vim.fault.NoPermission; "" for none. pyVmomi hands a ``LocalizedMethodFault`` over
    as the fault it wraps (with ``msg`` set to its ``localizedMessage``); a wrapper built by hand is unwrapped."""
    if isinstance(fault, vmodl.LocalizedMethodFault):
        fault = fault.fault
    return "" if fault is None else type(fault).__name__.split(".")[-1]


def retrieve(content, props: Mapping[type, Iterable[str]], *, root=None, page_size: int | None = None,
             missing: list | None = None,
             progress: Callable | None = None) -> dict[type, list[tuple[object, dict]]]:
    """Properties of every object of the given types below ``root``.

    ``props`` maps a managed object type to property paths, for example
    ``{vim.VirtualMachine: ["name", "runtime.host"]}``. Returns, per type, a list
    of ``(managed object, {path: value})``; an object is listed under every
    requested type it is an instance of; a property that is unset on an object,
    or that vCenter withheld, is missing from its dict. One ContainerView and one
    paged RetrievePropertiesEx serve all types together.

    ``missing``: a list to which each withheld property (an entry of the
    object's ``ObjectContent.missingSet``) is appended as ``("Type:moid", path,
    fault type name)``, for example ``("VirtualMachine:vm-42",
    "runtime.featureRequirement", "NoPermission")``. ``progress(obj)`` is called
    once per object read, in the order vCenter answers.
    """
    types = list(props)
    view = content.viewManager.CreateContainerView(root or content.rootFolder, types, True)
    try:
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
                PC.TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)])],
            propSet=[PC.PropertySpec(type=t, pathSet=sorted(set(paths))) for t, paths in props.items()],
        )
        out: dict[type, list] = defaultdict(list)
        for obj, values in _contents(content.propertyCollector, [spec], page_size, missing, progress):
            for t in types:  # a DistributedVirtualPortgroup is also a Network
                if isinstance(obj, t):
                    out[t].append((obj, values))
        return {t: out.get(t, []) for t in types}
    finally:
        view.DestroyView()


def retrieve_objects(content, objs, paths: Iterable[str], *, page_size: int | None = None,
                     missing: list | None = None, progress: Callable | None = None) -> list[tuple[object, dict]]:
    """The same properties of the given objects (all of one type), in one paged RetrievePropertiesEx.

    Returns ``(managed object, {path: value})`` per object, in the order vCenter answers; ``missing`` and
    ``progress`` as for :func:`retrieve`."""
    objs = list(objs)
    if not objs:
        return []
    spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=o, skip=False) for o in objs],
                         propSet=[PC.PropertySpec(type=type(objs[0]), pathSet=sorted(set(paths)))])
    return list(_contents(content.propertyCollector, [spec], page_size, missing, progress))


def owner(content, obj):
    """The inventory entity that ``obj`` belongs to: ``obj`` itself if it is one.

    Configuration managers are not in the inventory tree: a host's
    ``configManager.networkSystem`` (or ``virtualNicManager``, ``datastoreSystem``, ...) has no
    ``parent``, so it belongs to the host that lists it; a ClusterEVCManager belongs to its
    ``managedCluster``. ``None`` when no owner is found.
    """
    if isinstance(obj, vim.ManagedEntity):
        return obj
    if isinstance(obj, vim.cluster.EVCManager):
        (_, props), = retrieve_objects(content, [obj], ["managedCluster"])
        return props.get("managedCluster")
    for host, props in retrieve(content, {vim.HostSystem: ["configManager"]})[vim.HostSystem]:
        managers = props.get("configManager")
        for name in (managers._propInfo if managers is not None else {}):
            ref = getattr(managers, name, None)
            if isinstance(ref, vim.ManagedObject) and ref._moId == obj._moId and type(ref) is type(obj):
                return host
    return None


def ancestors(content, obj) -> list[tuple[object, str]]:
    """``obj`` and everything above it, as ``(object, inventory path)``.

    Follows ``parent`` up to the root folder and, for a virtual machine, also
    its resource pool (and vApp) chain, in one RetrievePropertiesEx call. Paths
    are the ones govc and the vSphere Client show: ``/DC0/vm/lab``,
    ``/DC0/host/DC0_C0/Resources/lab``.
    """
    up = PC.SelectionSpec(name="up")
    traverse = [PC.TraversalSpec(name="up", type=vim.ManagedEntity, path="parent", skip=False, selectSet=[up])]
    if isinstance(obj, vim.VirtualMachine):
        traverse += [
            PC.TraversalSpec(name="pool", type=vim.VirtualMachine, path="resourcePool", skip=False, selectSet=[up]),
            PC.TraversalSpec(name="vapp", type=vim.VirtualMachine, path="parentVApp", skip=False, selectSet=[up]),
        ]
    spec = PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=obj, skip=False, selectSet=traverse)],
        propSet=[PC.PropertySpec(type=vim.ManagedEntity, pathSet=["name", "parent"])],
    )
    nodes = {}
    for oc in _pages(content.propertyCollector, [spec], None):
        values = {p.name: p.val for p in oc.propSet}
        parent = values.get("parent")
        nodes[oc.obj._moId] = (oc.obj, values.get("name", oc.obj._moId), parent._moId if parent else None)

    def path(moid: str) -> str:
        names = []
        while moid in nodes and nodes[moid][2] is not None:  # the root folder has no parent and no path
            names.append(nodes[moid][1])
            moid = nodes[moid][2]
        return "/" + "/".join(reversed(names))

    return [(o, path(moid)) for moid, (o, _, _) in nodes.items()]
