package main

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// NFS datastores mounted and unmounted at run time. In vCenter one NFS export
// (remote host and path) is one Datastore object per datacenter, whatever the
// number of hosts that mount it: ds.host lists the mounts and each host's
// datastore lists it back (API reference, HostNasVolumeSpec). The simulator
// package instead makes a second mount of the same export a DuplicateName and
// never records NAS mounts in ds.host, so the lab answers CreateNasDatastore
// and RemoveDatastore itself. Scenario NFS datastores export
// nfs.lab.local:/exports/<name>.

const (
	nfsServer    = "nfs.lab.local"
	newExportGiB = 1024 // the capacity of an export the scenario did not define
)

type dssRouter struct {
	labObject
}

func (r *dssRouter) Reference() types.ManagedObjectReference { return r.Self }

func (r *dssRouter) system() (*simulator.HostDatastoreSystem, *simulator.HostSystem) {
	dss, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "HostDatastoreSystem", Value: r.Self.Value}).(*simulator.HostDatastoreSystem)
	if !ok || dss.Host == nil {
		return nil, nil
	}
	h, _ := simulator.Map.Get(dss.Host.Self).(*simulator.HostSystem)
	return dss, h
}

// exportNFS gives a scenario's NFS datastore its export, visible as info.nas.
func exportNFS(ds *simulator.Datastore) {
	info := ds.Info.GetDatastoreInfo()
	ds.Info = &types.NasDatastoreInfo{DatastoreInfo: *info, Nas: &types.HostNasVolume{
		HostFileSystemVolume: types.HostFileSystemVolume{Type: "NFS", Name: ds.Name, Capacity: ds.Summary.Capacity},
		RemoteHost:           nfsServer, RemotePath: "/exports/" + ds.Name}}
}

func nasOf(ds *simulator.Datastore) *types.HostNasVolume {
	if nas, ok := ds.Info.(*types.NasDatastoreInfo); ok {
		return nas.Nas
	}
	return nil
}

func datacenterDatastores(h *simulator.HostSystem) []*simulator.Datastore {
	var out []*simulator.Datastore
	for _, e := range simulator.Map.All("Datastore") {
		if ds, ok := e.(*simulator.Datastore); ok && sameDatacenter(ds.Parent, h.Parent) {
			out = append(out, ds)
		}
	}
	return out
}

// datacenterOf is the Datacenter an entity sits below.
func datacenterOf(ref *types.ManagedObjectReference) types.ManagedObjectReference {
	for ref != nil {
		obj := simulator.Map.Get(*ref)
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return dc.Self
		}
		ent, ok := obj.(mo.Entity)
		if !ok {
			break
		}
		ref = ent.Entity().Parent
	}
	return types.ManagedObjectReference{}
}

func sameDatacenter(a, b *types.ManagedObjectReference) bool {
	return datacenterOf(a) == datacenterOf(b)
}

// setMounts writes ds.host and the summary fields that follow from it.
func setMounts(ds *simulator.Datastore, mounts []types.DatastoreHostMount) {
	simulator.Map.WithLock(ds, func() {
		ds.Summary.MultipleHostAccess = types.NewBool(len(mounts) > 1)
		ds.Summary.Accessible = len(mounts) > 0
		simulator.Map.Update(ds, []types.PropertyChange{{Name: "host", Val: mounts}})
	})
}

// mount records one more host on the datastore, everywhere vCenter reports it.
// mode is the spec's accessMode (HostMountMode readWrite or readOnly): a read-only mount cannot take a VM's
// files (checks.go).
func mount(ds *simulator.Datastore, h *simulator.HostSystem, dss *simulator.HostDatastoreSystem, mode string) {
	var mounts []types.DatastoreHostMount
	for _, m := range ds.Host {
		if m.Key != h.Self {
			mounts = append(mounts, m)
		}
	}
	mounts = append(mounts, types.DatastoreHostMount{Key: h.Self,
		MountInfo: types.HostMountInfo{Path: "/vmfs/volumes/" + ds.Name, AccessMode: mode,
			Mounted: types.NewBool(true), Accessible: types.NewBool(true)}})
	setMounts(ds, mounts)
	addRef(h, "datastore", &h.Datastore, ds.Self)
	dss.Datastore = append(append([]types.ManagedObjectReference(nil), dss.Datastore...), ds.Self)
	refreshComputeResourceDatastores(h, false)
}

func (r *dssRouter) CreateNasDatastore(ctx *simulator.Context, req *types.CreateNasDatastore) soap.HasFault {
	body := &methods.CreateNasDatastoreBody{}
	dss, h := r.system()
	spec := req.Spec
	name := path.Base(spec.LocalPath)
	switch {
	case dss == nil || h == nil:
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	case spec.RemoteHost == "" || spec.RemotePath == "" || name == "" || name == "." || name == "/":
		body.Fault_ = simulator.Fault("An NFS mount needs remoteHost, remotePath and localPath (the datastore name).",
			&types.InvalidArgument{InvalidProperty: "spec"})
		return body
	case spec.AccessMode != string(types.HostMountModeReadWrite) && spec.AccessMode != string(types.HostMountModeReadOnly):
		// HostNasVolumeSpec.accessMode is a required HostMountMode (API reference); govc sends readOnly unless told
		body.Fault_ = simulator.Fault(fmt.Sprintf("An NFS mount needs accessMode readWrite or readOnly, not %q.", spec.AccessMode),
			&types.InvalidArgument{InvalidProperty: "spec.accessMode"})
		return body
	}
	for _, ds := range datacenterDatastores(h) {
		nas := nasOf(ds)
		sameExport := nas != nil && nas.RemoteHost == spec.RemoteHost && strings.TrimSuffix(nas.RemotePath, "/") == strings.TrimSuffix(spec.RemotePath, "/")
		switch {
		case sameExport && mountedOn(ds.Self, h):
			body.Fault_ = simulator.Fault(fmt.Sprintf("%s:%s is already mounted on %s as %s.", spec.RemoteHost, spec.RemotePath, h.Name, ds.Name),
				&types.AlreadyExists{Name: ds.Name})
			return body
		case sameExport && ds.Name != name:
			body.Fault_ = simulator.Fault(fmt.Sprintf("%s:%s is the datastore %s: mount it under that name.", spec.RemoteHost, spec.RemotePath, ds.Name),
				&types.DuplicateName{Name: name, Object: ds.Self})
			return body
		case sameExport:
			mount(ds, h, dss, spec.AccessMode)
			body.Res = &types.CreateNasDatastoreResponse{Returnval: ds.Self}
			return body
		case ds.Name == name:
			body.Fault_ = simulator.Fault(fmt.Sprintf("A datastore named %s already exists (another export).", name),
				&types.DuplicateName{Name: name, Object: ds.Self})
			return body
		}
	}
	// a new export: its files live in a folder of the launcher's datastore root
	if err := os.MkdirAll(name, 0o755); err != nil {
		body.Fault_ = simulator.Fault(err.Error(), &types.HostConfigFault{})
		return body
	}
	local := spec
	local.LocalPath = name
	res := dss.CreateNasDatastore(ctx, &types.CreateNasDatastore{This: dss.Self, Spec: local})
	if res.Fault() != nil {
		return res
	}
	ref := res.(*methods.CreateNasDatastoreBody).Res.Returnval
	ds := simulator.Map.Get(ref).(*simulator.Datastore)
	ds.Summary.Capacity = int64(newExportGiB) << 30
	ds.Summary.FreeSpace = ds.Summary.Capacity - usedBytes(name)
	ds.Summary.Type = "NFS"
	h.Datastore = dropFrom(h.Datastore, ref) // mount() adds it back with the rest
	dss.Datastore = dropFrom(dss.Datastore, ref)
	mount(ds, h, dss, spec.AccessMode)
	body.Res = &types.CreateNasDatastoreResponse{Returnval: ref}
	return body
}

func dropFrom(list []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	var out []types.ManagedObjectReference
	for _, r := range list {
		if r != ref {
			out = append(out, r)
		}
	}
	return out
}

// RemoveDatastore unmounts the datastore from this host; vCenter refuses while VMs registered
// on the host keep files on it.
func (r *dssRouter) RemoveDatastore(ctx *simulator.Context, req *types.RemoveDatastore) soap.HasFault {
	body := &methods.RemoveDatastoreBody{}
	dss, h := r.system()
	if dss == nil || h == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.This})
		return body
	}
	ds, ok := simulator.Map.Get(req.Datastore).(*simulator.Datastore)
	if !ok || !mountedOn(ds.Self, h) {
		body.Fault_ = simulator.Fault(fmt.Sprintf("The datastore is not mounted on %s.", h.Name), &types.NotFound{})
		return body
	}
	for _, ref := range h.Vm {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok && containsRef(vm.Datastore, ds.Self) {
			body.Fault_ = simulator.Fault(fmt.Sprintf("%s on %s keeps files on %s: move it first.", vm.Name, h.Name, ds.Name),
				&types.ResourceInUse{Type: "Datastore", Name: ds.Name})
			return body
		}
	}
	var mounts []types.DatastoreHostMount
	for _, m := range ds.Host {
		if m.Key != h.Self {
			mounts = append(mounts, m)
		}
	}
	setMounts(ds, mounts)
	dropRef(h, "datastore", &h.Datastore, ds.Self)
	dss.Datastore = dropFrom(dss.Datastore, ds.Self)
	refreshComputeResourceDatastores(h, false)
	body.Res = &types.RemoveDatastoreResponse{}
	return body
}

// refreshComputeResourceDatastores sets the datastore list of h's compute
// resource (a cluster, or a standalone host's) to every datastore one of its
// hosts mounts: "the subset of datastore objects in the datacenter available
// in this ComputeResource" (API reference, ComputeResource.datastore). The
// simulator package added a datastore only to the cluster of the host it was
// created on. direct writes the field while the inventory is built, before
// any client watches; otherwise the change is published.
func refreshComputeResourceDatastores(h *simulator.HostSystem, direct bool) {
	refreshHostBrowser(h)
	refreshHostMounts(h)
	if h.Parent == nil {
		return
	}
	obj := simulator.Map.Get(*h.Parent)
	var cr *mo.ComputeResource
	switch c := obj.(type) {
	case *simulator.ClusterComputeResource:
		cr = &c.ComputeResource
	case *mo.ComputeResource: // a standalone host's
		cr = c
	default:
		return
	}
	list := []types.ManagedObjectReference{}
	for _, ref := range cr.Host {
		if host, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
			for _, ds := range host.Datastore {
				if !containsRef(list, ds) {
					list = append(list, ds)
				}
			}
		}
	}
	if direct {
		cr.Datastore = list
		return
	}
	simulator.Map.WithLock(obj, func() {
		simulator.Map.Update(obj, []types.PropertyChange{{Name: "datastore", Val: list}})
	})
}
