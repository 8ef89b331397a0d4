package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator package dispatches a SOAP call to the registry object named by
// _this, and much of it asserts that a VirtualMachine or HostSystem in the
// registry is exactly its own type, so those objects cannot be wrapped. For
// the calls whose behaviour the lab changes, this middleware re-addresses the
// call to a small router object registered under a lab type with the same id
// ({LabVirtualMachine, vm-42}); the router gets the simulator's full call
// context (session, locking) and works on the real object.

var routed = map[string]string{
	"RelocateVM_Task":                 "VirtualMachine",
	"MigrateVM_Task":                  "VirtualMachine",
	"EnterMaintenanceMode_Task":       "HostSystem",
	"ExitMaintenanceMode_Task":        "HostSystem",
	"ReconnectHost_Task":              "HostSystem",
	"DisconnectHost_Task":             "HostSystem",
	"AddPortGroup":                    "HostNetworkSystem",
	"RemovePortGroup":                 "HostNetworkSystem",
	"AddVirtualNic":                   "HostNetworkSystem",
	"RemoveVirtualNic":                "HostNetworkSystem",
	"UpdateVirtualNic":                "HostNetworkSystem",
	"UpdateVirtualSwitch":             "HostNetworkSystem",
	"AddVirtualSwitch":                "HostNetworkSystem",
	"RemoveVirtualSwitch":             "HostNetworkSystem",
	"UpdatePortGroup":                 "HostNetworkSystem",
	"UpdateNetworkConfig":             "HostNetworkSystem",
	"UpdateDnsConfig":                 "HostNetworkSystem",
	"EvcManager":                      "ClusterComputeResource",
	"ReconfigureComputeResource_Task": "ClusterComputeResource",
	"ReconfigureCluster_Task":         "ClusterComputeResource",
	"GetResourceUsage":                "ClusterComputeResource",
	"PlaceVm":                         "ClusterComputeResource",
	"CreateClusterEx":                 "Folder",
	"PowerOnVM_Task":                  "VirtualMachine",
	"PowerOffVM_Task":                 "VirtualMachine",
	"SuspendVM_Task":                  "VirtualMachine",
	"ShutdownGuest":                   "VirtualMachine",
	"RebootGuest":                     "VirtualMachine",
	"StandbyGuest":                    "VirtualMachine",
	"CreateNasDatastore":              "HostDatastoreSystem",
	"RemoveDatastore":                 "HostDatastoreSystem",
}

var thisType = regexp.MustCompile(`(<_this\b[^>]*\btype=")(VirtualMachine|HostSystem|HostNetworkSystem|HostDatastoreSystem|ClusterComputeResource|Folder)(")`)
var thisValue = regexp.MustCompile(`<_this\b[^>]*>([^<]+)</_this>`)

type routingHandler struct {
	next           http.Handler
	user, password string
}

func (h routingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/sdk/vimServiceVersions.xml" {
		serveServiceVersions(w)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/labkit/vmkping" {
		serveVmkping(w, r, h.user, h.password)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/labkit/clock" {
		serveClock(w, r, h.user, h.password)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/labkit/methods" {
		serveMethods(w, r, h.user, h.password)
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/sdk") {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			served.add(soapMethod(body))
			body = reroute(body)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	h.next.ServeHTTP(w, r)
}

// soapMethod returns the name of the first element inside the SOAP Body.
func soapMethod(body []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(body))
	inBody := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			if inBody {
				return se.Name.Local
			}
			inBody = se.Name.Local == "Body"
		}
	}
}

func reroute(body []byte) []byte {
	method := soapMethod(body)
	kind, ok := routed[method]
	if !ok {
		return body
	}
	m := thisValue.FindSubmatch(body)
	if m == nil {
		return body
	}
	ref := types.ManagedObjectReference{Type: kind, Value: string(m[1])}
	if simulator.Map.Get(ref) == nil {
		return body // let the simulator answer ManagedObjectNotFound
	}
	ensureRouter(ref)
	return thisType.ReplaceAll(body, []byte("${1}Lab${2}${3}"))
}

// labObject is the first field of every object the lab registers that has no managed-object type of its own
// (the routers, the provisioning checker). The simulator package digs an embedded type of package mo out of
// each registry object, SearchIndex.FindByUuid and FindByDatastorePath walk all of them, and it panics on an
// object without one: every lookup by UUID or by datastore path ended the client's connection.
type labObject struct {
	mo.ExtensibleManagedObject
}

func labRef(ref types.ManagedObjectReference) labObject {
	var o labObject
	o.Self = ref
	return o
}

type vmRouter struct {
	labObject
}

func (r *vmRouter) Reference() types.ManagedObjectReference { return r.Self }

type hostRouter struct {
	labObject
}

func (r *hostRouter) Reference() types.ManagedObjectReference { return r.Self }

func ensureRouter(ref types.ManagedObjectReference) {
	lab := types.ManagedObjectReference{Type: "Lab" + ref.Type, Value: ref.Value}
	if simulator.Map.Get(lab) != nil {
		return
	}
	switch ref.Type {
	case "VirtualMachine":
		simulator.Map.Put(&vmRouter{labRef(lab)})
	case "HostSystem":
		simulator.Map.Put(&hostRouter{labRef(lab)})
	case "HostNetworkSystem":
		simulator.Map.Put(&netRouter{labRef(lab)})
	case "ClusterComputeResource":
		simulator.Map.Put(&clusterRouter{labRef(lab)})
	case "HostDatastoreSystem":
		simulator.Map.Put(&dssRouter{labRef(lab)})
	case "Folder":
		simulator.Map.Put(&folderRouter{labRef(lab)})
	}
}

func (r *vmRouter) target() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VirtualMachine", Value: r.Self.Value}
}

func (r *hostRouter) target() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "HostSystem", Value: r.Self.Value}
}
