"""PropertyCollector helpers: many objects' properties in one round trip.

Reading ``vm.runtime.host`` on a pyVmomi object costs one SOAP call per
attribute per object. The PropertyCollector answers for all objects of several
types in one ``RetrievePropertiesEx`` call over a ContainerView, then hands
out further pages with ``ContinueRetrievePropertiesEx``. Everything labkit
reads in bulk goes through :func:`retrieve`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

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


def retrieve(content, props: Mapping[type, Iterable[str]], *, root=None,
             page_size: int | None = None) -> dict[type, list[tuple[object, dict]]]:
    """Properties of every object of the given types below ``root``.

    ``props`` maps a managed object type to property paths, for example
    ``{vim.VirtualMachine: ["name", "runtime.host"]}``. Returns, per type, a list
    of ``(managed object, {path: value})``; an object is listed under every
    requested type it is an instance of; a property that is unset on an object
    is missing from its dict. One ContainerView and one paged
    RetrievePropertiesEx serve all types together.
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
        for oc in _pages(content.propertyCollector, [spec], page_size):
            values = {p.name: p.val for p in oc.propSet}
            for t in types:  # a DistributedVirtualPortgroup is also a Network
                if isinstance(oc.obj, t):
                    out[t].append((oc.obj, values))
        return {t: out.get(t, []) for t in types}
    finally:
        view.DestroyView()


def retrieve_objects(content, objs, paths: Iterable[str], *,
                     page_size: int | None = None) -> list[tuple[object, dict]]:
    """The same properties of the given objects (all of one type), in one paged RetrievePropertiesEx."""
    objs = list(objs)
    if not objs:
        return []
    spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=o, skip=False) for o in objs],
                         propSet=[PC.PropertySpec(type=type(objs[0]), pathSet=sorted(set(paths)))])
    return [(oc.obj, {p.name: p.val for p in oc.propSet}) for oc in _pages(content.propertyCollector, [spec],
                                                                          page_size)]


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
