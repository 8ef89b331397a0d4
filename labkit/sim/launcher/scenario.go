package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// A scenario is the lab world one lesson needs, compiled by labkit from a
// human-readable file in datasets/scenarios/ into this JSON. The launcher
// builds it through the vSphere API of the simulator it serves (so the
// simulator's own bookkeeping stays consistent), then writes the facts the API
// cannot set: CPU packages and features, EVC keys, host state, vMotion
// adapters, datastores and port groups shared by several hosts.

type scenario struct {
	Name             string            `json:"name"`
	Datacenter       string            `json:"datacenter"`
	MigrationSeconds float64           `json:"migrationSeconds"`
	TimeScale        float64           `json:"timeScale"`       // simulated seconds per real second
	PhysicalMTU      int32             `json:"physicalMtu"`     // the largest frame the physical network carries
	DefaultWorkload  *workloadSpec     `json:"defaultWorkload"` // a VM's workload when it has none of its own
	EVCModes         map[string]evc    `json:"evcModes"`
	Clusters         []clusterSpec     `json:"clusters"`
	Hosts            []hostSpec        `json:"hosts"`
	Datastores       []datastoreSpec   `json:"datastores"`
	Networks         []networkSpec     `json:"networks"`
	VMs              []vmSpec          `json:"vms"`
	Generate         *generateSpec     `json:"generate"`
	VCenter          *vcenterSpec      `json:"vcenter"`
	Labels           map[string]string `json:"labels"`
}

type evc struct {
	Vendor   string            `json:"vendor"`
	Tier     int               `json:"tier"` // position among the vendor's baselines, oldest first
	Label    string            `json:"label"`
	Features map[string]string `json:"features"` // cpuid key -> value a host in this mode exposes
}

type clusterSpec struct {
	Name    string `json:"name"`
	EVCMode string `json:"evcMode"`
	DRS     bool   `json:"drs"`
	HA      bool   `json:"ha"`
}

type hostSpec struct {
	Name            string            `json:"name"`
	Cluster         string            `json:"cluster"`
	Vendor          string            `json:"vendor"`
	CPUModel        string            `json:"cpuModel"`
	MaxEVCModeKey   string            `json:"maxEVCModeKey"`
	Features        map[string]string `json:"features"`
	MemoryMB        int64             `json:"memoryMB"`
	Cores           int16             `json:"cores"`
	Version         string            `json:"version"`
	Build           string            `json:"build"`
	APIVersion      string            `json:"apiVersion"`
	MaxHWVersion    int               `json:"maxHardwareVersion"`
	ConnectionState string            `json:"connectionState"`
	Maintenance     bool              `json:"maintenance"`
	VMotionVnics    []string          `json:"vmotionVnics"`
	MTU             int32             `json:"mtu"`
	UplinkMbps      int32             `json:"uplinkMbps"` // every physical NIC's link speed
	FullDuplex      bool              `json:"fullDuplex"`
	VMotionIP       string            `json:"vmotionIp"`    // the first vMotion adapter's address, CIDR
	VMotionStack    bool              `json:"vmotionStack"` // the vMotion adapters are on the vMotion TCP/IP stack
}

type datastoreSpec struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	CapacityGB int64    `json:"capacityGB"`
	Hosts      []string `json:"hosts"`
}

type networkSpec struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`   // standard or distributed
	Switch  string   `json:"switch"` // a standard port group's switch: vSwitch0 unless named
	VLAN    int32    `json:"vlan"`
	Hosts   []string `json:"hosts"`
	Uplinks []string `json:"uplinks"` // a standard switch's physical NICs; nil: vSwitch0 keeps vmnic0
}

type deviceSpec struct {
	Kind      string `json:"kind"`    // cdrom, usb, serial, pci
	Backing   string `json:"backing"` // host, iso, client
	Connected bool   `json:"connected"`
	Datastore string `json:"datastore"` // an ISO image's datastore
	VMotion   bool   `json:"vmotion"`   // a USB device configured for vMotion
}

type vmSpec struct {
	Name                string            `json:"name"`
	Host                string            `json:"host"`
	Datastore           string            `json:"datastore"`
	Networks            []string          `json:"networks"`
	MemoryMB            int32             `json:"memoryMB"`
	MemoryReservationMB int64             `json:"memoryReservationMB"`
	CPUs                int32             `json:"cpus"`
	PowerState          string            `json:"powerState"` // poweredOn, poweredOff or suspended
	Version             string            `json:"version"`
	GuestID             string            `json:"guestId"`
	DiskGB              int64             `json:"diskGB"`
	FeatureRequirement  map[string]string `json:"featureRequirement"`
	MinEVCModeKey       string            `json:"minRequiredEVCModeKey"`
	Devices             []deviceSpec      `json:"devices"`
	NicConnected        bool              `json:"nicConnected"`
	Workload            *workloadSpec     `json:"workload"`
}

type generateSpec struct {
	Clusters           int               `json:"clusters"`
	HostsPerCluster    int               `json:"hostsPerCluster"`
	VMsPerCluster      int               `json:"vmsPerCluster"`
	Host               hostSpec          `json:"host"` // applied to every generated host
	VMMemoryMB         int32             `json:"vmMemoryMB"`
	FeatureRequirement map[string]string `json:"featureRequirement"`
}

func readScenario(path string) (*scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-scenario: %v", err)
	}
	s := &scenario{}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("-scenario %s: %v", path, err)
	}
	if s.Datacenter == "" {
		s.Datacenter = "Lab-DC"
	}
	return s, nil
}

// world keeps the lab facts the vMotion checks read and the simulator has no
// field for.
type world struct {
	maxHWVersion map[types.ManagedObjectReference]int
	vmotionMTU   map[types.ManagedObjectReference]int32
	vnics        map[types.ManagedObjectReference]*hostVnics
	evcModes     map[string]evc
	migration    float64
	timeScale    float64 // simulated seconds per real second
	physicalMTU  int32
	workloads    map[types.ManagedObjectReference]workloadSpec
	// defaultWorkload: datasets/workloads.csv's idle profile, which labkit writes in every scenario
	defaultWorkload workloadSpec
	building        bool // the scenario is being built: its file was checked for states vCenter could not reach
}

var lab = &world{
	maxHWVersion: map[types.ManagedObjectReference]int{},
	vmotionMTU:   map[types.ManagedObjectReference]int32{},
	vnics:        map[types.ManagedObjectReference]*hostVnics{},
	evcModes:     map[string]evc{},
	migration:    defaultMigrationSeconds,
	timeScale:    defaultTimeScale,
	physicalMTU:  defaultPhysicalMTU,
	workloads:    map[types.ManagedObjectReference]workloadSpec{},
	// the idle profile's numbers (datasets/workloads.csv) for a world built without a scenario
	defaultWorkload: workloadSpec{Profile: "idle", DirtyRateMiBps: 3.8, HotShare: 1},
}

// builder holds what a build has created so far, by name.
type builder struct {
	ctx      context.Context
	c        *vim25.Client
	s        *scenario
	dc       *object.Datacenter
	folders  *object.DatacenterFolders
	clusters map[string]*object.ClusterComputeResource
	hosts    map[string]*object.HostSystem
	pools    map[string]*object.ResourcePool // host name -> pool its VMs go in
	ds       map[string]types.ManagedObjectReference
	nets     map[string]types.ManagedObjectReference
	dvs      map[string]*object.DistributedVirtualSwitch
	dvpg     map[string]types.DistributedVirtualSwitchPortConnection
	dvPorts  int // distributed ports handed out so far (early binding: one per NIC, for good)
	members  map[string][]types.ManagedObjectReference
}

// buildScenario creates the scenario's inventory on the running server.
func buildScenario(ctx context.Context, s *scenario, user string) error {
	c, err := newInProcessClient(ctx, user)
	if err != nil {
		return fmt.Errorf("scenario build: %v", err)
	}

	b := &builder{ctx: ctx, c: c, s: s,
		clusters: map[string]*object.ClusterComputeResource{}, hosts: map[string]*object.HostSystem{},
		pools: map[string]*object.ResourcePool{}, ds: map[string]types.ManagedObjectReference{},
		nets: map[string]types.ManagedObjectReference{}, dvs: map[string]*object.DistributedVirtualSwitch{},
		dvpg: map[string]types.DistributedVirtualSwitchPortConnection{}, members: map[string][]types.ManagedObjectReference{}}
	for k, v := range s.EVCModes {
		lab.evcModes[k] = v
	}
	if s.MigrationSeconds > 0 {
		lab.migration = s.MigrationSeconds
	}
	if s.TimeScale > 0 && !timeScaleFlag {
		lab.timeScale = s.TimeScale
	}
	if s.PhysicalMTU > 0 {
		lab.physicalMTU = s.PhysicalMTU
	}
	if s.DefaultWorkload != nil {
		lab.defaultWorkload = *s.DefaultWorkload
	}
	// hosts get their memory and state only at the end (patch), so power-on admission waits for the built world
	lab.building = true
	defer func() { lab.building = false }()
	steps := []func() error{b.datacenter, b.clusterStep, b.hostStep, b.datastoreStep, b.networkStep, b.vmStep}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("scenario %s: %v", s.Name, err)
		}
	}
	return b.patch()
}

func (b *builder) datacenter() error {
	dc, err := object.NewRootFolder(b.c).CreateDatacenter(b.ctx, b.s.Datacenter)
	if err != nil {
		return fmt.Errorf("datacenter %s: %v", b.s.Datacenter, err)
	}
	b.dc = dc
	b.folders, err = dc.Folders(b.ctx)
	return err
}

func (b *builder) clusterStep() error {
	for _, cs := range b.s.Clusters {
		drs, ha := cs.DRS, cs.HA
		spec := types.ClusterConfigSpecEx{
			DrsConfig: &types.ClusterDrsConfigInfo{Enabled: &drs, DefaultVmBehavior: types.DrsBehaviorFullyAutomated},
			DasConfig: &types.ClusterDasConfigInfo{Enabled: &ha},
		}
		cl, err := b.folders.HostFolder.CreateCluster(b.ctx, cs.Name, spec)
		if err != nil {
			return fmt.Errorf("cluster %s: %v", cs.Name, err)
		}
		b.clusters[cs.Name] = cl
	}
	return nil
}

func (b *builder) hostStep() error {
	for _, hs := range b.s.Hosts {
		spec := types.HostConnectSpec{HostName: hs.Name, UserName: "root", Password: "lab", Force: true}
		var task *object.Task
		var err error
		if hs.Cluster != "" {
			cl, ok := b.clusters[hs.Cluster]
			if !ok {
				return fmt.Errorf("host %s: no cluster %s", hs.Name, hs.Cluster)
			}
			task, err = cl.AddHost(b.ctx, spec, true, nil, nil)
		} else {
			task, err = b.folders.HostFolder.AddStandaloneHost(b.ctx, spec, true, nil, nil)
		}
		if err != nil {
			return fmt.Errorf("host %s: %v", hs.Name, err)
		}
		res, err := b.result(task)
		if err != nil {
			return fmt.Errorf("host %s: %v", hs.Name, err)
		}
		ref := res.Result.(types.ManagedObjectReference)
		if ref.Type == "ComputeResource" { // a standalone host's compute resource
			cr := simulator.Map.Get(ref).(*mo.ComputeResource)
			ref = cr.Host[0]
		}
		host := object.NewHostSystem(b.c, ref)
		b.hosts[hs.Name] = host
		addLabPnics(simulator.Map.Get(ref).(*simulator.HostSystem))
		pool, err := host.ResourcePool(b.ctx)
		if err != nil {
			return fmt.Errorf("host %s: %v", hs.Name, err)
		}
		b.pools[hs.Name] = pool
	}
	return nil
}

func (b *builder) hostRefs(names []string) ([]types.ManagedObjectReference, error) {
	var refs []types.ManagedObjectReference
	for _, n := range names {
		h, ok := b.hosts[n]
		if !ok {
			return nil, fmt.Errorf("no host %s", n)
		}
		refs = append(refs, h.Reference())
	}
	return refs, nil
}

func (b *builder) datastoreStep() error {
	for _, d := range b.s.Datastores {
		if len(d.Hosts) == 0 {
			return fmt.Errorf("datastore %s: mounted on no host", d.Name)
		}
		if err := os.MkdirAll(d.Name, 0o755); err != nil {
			return fmt.Errorf("datastore %s: %v", d.Name, err)
		}
		first := b.hosts[d.Hosts[0]]
		if first == nil {
			return fmt.Errorf("datastore %s: no host %s", d.Name, d.Hosts[0])
		}
		dss, err := first.ConfigManager().DatastoreSystem(b.ctx)
		if err != nil {
			return err
		}
		// A relative path: the launcher runs in its own datastore root, so
		// datastore ids read "shared-nfs@folder-5" rather than a temp path.
		ds, err := dss.CreateLocalDatastore(b.ctx, d.Name, d.Name)
		if err != nil {
			return fmt.Errorf("datastore %s: %v", d.Name, err)
		}
		b.ds[d.Name] = ds.Reference()
		refs, err := b.hostRefs(d.Hosts)
		if err != nil {
			return fmt.Errorf("datastore %s: %v", d.Name, err)
		}
		mountDatastore(ds.Reference(), refs, d)
	}
	return nil
}

// mountDatastore mounts one datastore on several hosts, keeping ds.host and
// host.datastore consistent.
func mountDatastore(ref types.ManagedObjectReference, hosts []types.ManagedObjectReference, d datastoreSpec) {
	ds := simulator.Map.Get(ref).(*simulator.Datastore)
	kind := d.Type
	if kind == "" {
		kind = "VMFS"
	}
	capacity := d.CapacityGB << 30
	info := ds.Info.GetDatastoreInfo()
	var mounts []types.DatastoreHostMount
	for _, h := range hosts {
		mounts = append(mounts, types.DatastoreHostMount{Key: h, MountInfo: types.HostMountInfo{
			Path: "/vmfs/volumes/" + d.Name, AccessMode: string(types.HostMountModeReadWrite),
			Mounted: types.NewBool(true), Accessible: types.NewBool(true)}})
		host := simulator.Map.Get(h).(*simulator.HostSystem)
		if !containsRef(host.Datastore, ref) {
			host.Datastore = append(append([]types.ManagedObjectReference(nil), host.Datastore...), ref)
		}
		// the host's datastore system keeps its own list and copies it over
		// host.datastore when it creates a datastore, so it must list this one too
		if dss, ok := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem); ok && !containsRef(dss.Datastore, ref) {
			dss.Datastore = append(append([]types.ManagedObjectReference(nil), dss.Datastore...), ref)
		}
	}
	for _, h := range hosts {
		refreshComputeResourceDatastores(simulator.Map.Get(h).(*simulator.HostSystem), true)
	}
	// Written directly: this runs while the inventory is built, before any client watches.
	free := capacity - usedBytes(info.Url)
	ds.Host = mounts
	ds.Summary.Type = kind
	if kind == "NFS" {
		exportNFS(ds)
	}
	ds.Summary.Capacity = capacity
	ds.Summary.FreeSpace = free
	ds.Summary.MultipleHostAccess = types.NewBool(len(hosts) > 1)
	info.FreeSpace = free
	info.MaxFileSize = free
}

func containsRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}

func (b *builder) networkStep() error {
	if err := b.standardSwitches(); err != nil {
		return err
	}
	// distributed switches next: one per switch name, with its member hosts
	members := map[string][]string{}
	var switches []string
	for _, n := range b.s.Networks {
		if n.Type == "distributed" {
			if _, ok := members[n.Switch]; !ok {
				switches = append(switches, n.Switch)
			}
			members[n.Switch] = appendUnique(members[n.Switch], n.Hosts...)
		}
	}
	for _, sw := range switches {
		refs, err := b.hostRefs(members[sw])
		if err != nil {
			return fmt.Errorf("switch %s: %v", sw, err)
		}
		var hosts []types.DistributedVirtualSwitchHostMemberConfigSpec
		for i, r := range refs {
			member := types.DistributedVirtualSwitchHostMemberConfigSpec{Operation: "add", Host: r}
			if pnics := b.freePnics(members[sw][i], dvsUplinkPnics); len(pnics) > 0 {
				var specs []types.DistributedVirtualSwitchHostMemberPnicSpec
				for _, p := range pnics {
					specs = append(specs, types.DistributedVirtualSwitchHostMemberPnicSpec{PnicDevice: p})
				}
				member.Backing = &types.DistributedVirtualSwitchHostMemberPnicBacking{PnicSpec: specs}
			}
			hosts = append(hosts, member)
		}
		spec := types.DVSCreateSpec{ConfigSpec: labSwitchSpec(sw)}
		task, err := b.folders.NetworkFolder.CreateDVS(b.ctx, spec)
		if err != nil {
			return fmt.Errorf("switch %s: %v", sw, err)
		}
		res, err := b.result(task)
		if err != nil {
			return fmt.Errorf("switch %s: %v", sw, err)
		}
		dvs := object.NewDistributedVirtualSwitch(b.c, res.Result.(types.ManagedObjectReference))
		task, err = dvs.Reconfigure(b.ctx, &types.DVSConfigSpec{Host: hosts}) // members join after creation
		if err == nil {
			_, err = b.result(task)
		}
		if err != nil {
			return fmt.Errorf("switch %s: adding hosts: %v", sw, err)
		}
		b.dvs[sw] = dvs
		b.members[sw] = refs
	}
	for _, n := range b.s.Networks {
		switch n.Type {
		case "distributed":
			if err := b.addDVPortgroup(n); err != nil {
				return fmt.Errorf("network %s: %v", n.Name, err)
			}
		default:
			if err := b.addStandardPortgroup(n); err != nil {
				return fmt.Errorf("network %s: %v", n.Name, err)
			}
		}
	}
	return nil
}

// standardSwitch is a standard port group's switch.
func standardSwitch(n networkSpec) string {
	if n.Switch == "" {
		return "vSwitch0"
	}
	return n.Switch
}

// standardSwitches makes each standard switch other than vSwitch0 on every host one of its port groups reaches,
// through AddVirtualSwitch with its uplinks as its bond bridge (none: an internal-only switch), and gives
// vSwitch0 the uplinks its port groups name through UpdateVirtualSwitch. labkit.scenarios has checked that the
// port groups of one switch agree on its uplinks and that no physical NIC backs two switches of a host.
func (b *builder) standardSwitches() error {
	done := map[[2]string]bool{} // host, switch
	for _, n := range b.s.Networks {
		sw := standardSwitch(n)
		if n.Type == "distributed" || (sw == "vSwitch0" && n.Uplinks == nil) {
			continue
		}
		for _, hostName := range n.Hosts {
			if done[[2]string{hostName, sw}] {
				continue
			}
			done[[2]string{hostName, sw}] = true
			host, ok := b.hosts[hostName]
			if !ok {
				return fmt.Errorf("switch %s: no host %s", sw, hostName)
			}
			h := simulator.Map.Get(host.Reference()).(*simulator.HostSystem)
			ns := object.NewHostNetworkSystem(b.c, *h.ConfigManager.NetworkSystem)
			spec := types.HostVirtualSwitchSpec{NumPorts: defaultSwitchPorts}
			if len(n.Uplinks) > 0 {
				spec.Bridge = &types.HostVirtualSwitchBondBridge{NicDevice: append([]string(nil), n.Uplinks...)}
			}
			var err error
			if sw == "vSwitch0" {
				if ports := switchPorts(h, sw); ports != 0 {
					spec.NumPorts = ports
				}
				// the failover order follows the uplinks: vmnic0 leaves it, the new ones are active
				spec.Policy = &types.HostNetworkPolicy{NicTeaming: &types.HostNicTeamingPolicy{
					NicOrder: &types.HostNicOrderPolicy{ActiveNic: append([]string{}, n.Uplinks...)}}}
				err = ns.UpdateVirtualSwitch(b.ctx, sw, spec)
			} else {
				err = ns.AddVirtualSwitch(b.ctx, sw, &spec)
			}
			if err != nil {
				return fmt.Errorf("switch %s on %s: %v", sw, hostName, err)
			}
		}
	}
	return nil
}

// switchPorts is a standard switch's configured port count on h, or 0.
func switchPorts(h *simulator.HostSystem, name string) int32 {
	for _, vs := range h.Config.Network.Vswitch {
		if vs.Name == name {
			return vs.Spec.NumPorts
		}
	}
	return 0
}

func appendUnique(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, l := range list {
			found = found || l == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

// dvsUplinkPnics back a distributed switch's two uplinks on each member host: the lab's admin gave every
// switch physical adapters, as a switch without any carries no traffic off the host.
var dvsUplinkPnics = []string{"vmnic2", "vmnic3"}

// freePnics are those of pnics that no standard switch of the scenario uses on the host.
func (b *builder) freePnics(host string, pnics []string) []string {
	var out []string
	for _, p := range pnics {
		used := false
		for _, n := range b.s.Networks {
			if n.Type != "distributed" && containsString(n.Hosts, host) && containsString(n.Uplinks, p) {
				used = true
			}
		}
		if !used {
			out = append(out, p)
		}
	}
	return out
}

// addLabPnics gives a lab host four physical adapters, vmnic0 to vmnic3, where the engine's host has two: a
// standard switch and a distributed switch each get their own (vSwitch0 has vmnic0; distributed switches take
// vmnic2 and vmnic3). The new ones copy vmnic1 with their own key, device name, PCI address and MAC.
func addLabPnics(h *simulator.HostSystem) {
	if h.Config == nil || h.Config.Network == nil || len(h.Config.Network.Pnic) != 2 {
		return
	}
	pnics := append([]types.PhysicalNic(nil), h.Config.Network.Pnic...)
	for n := 2; n < 4; n++ {
		p := pnics[1]
		p.Device = fmt.Sprintf("vmnic%d", n)
		p.Key = "key-vim.host.PhysicalNic-" + p.Device
		p.Pci = fmt.Sprintf("0000:1%d:00.0", n+1)
		p.Mac = fmt.Sprintf("00:0c:29:81:d8:%02x", 0xaa+n)
		pnics = append(pnics, p)
	}
	setPnics(h, pnics)
}

// labSwitchSpec is how the lab's admin set up each distributed switch. These are the lab's choices, not
// defaults of vCenter's (the engine keeps the spec's values): two uplinks, one per physical NIC of a lab host;
// the standard 1500-byte MTU; CDP in listen mode; NetFlow (IPFIX) with no collector, flows exported after 60 s
// active or 15 s idle, every 4096th packet sampled.
func labSwitchSpec(name string) *types.VMwareDVSConfigSpec {
	return &types.VMwareDVSConfigSpec{
		DVSConfigSpec: types.DVSConfigSpec{Name: name,
			UplinkPortPolicy: &types.DVSNameArrayUplinkPortPolicy{UplinkPortName: []string{"Uplink 1", "Uplink 2"}}},
		MaxMtu:                      1500,
		LinkDiscoveryProtocolConfig: &types.LinkDiscoveryProtocolConfig{Protocol: "cdp", Operation: "listen"},
		IpfixConfig:                 &types.VMwareIpfixConfig{ActiveFlowTimeout: 60, IdleFlowTimeout: 15, SamplingRate: 4096},
	}
}

func (b *builder) addDVPortgroup(n networkSpec) error {
	dvs := b.dvs[n.Switch]
	task, err := dvs.AddPortgroup(b.ctx, []types.DVPortgroupConfigSpec{{Name: n.Name, Type: "earlyBinding", NumPorts: 128}})
	if err != nil {
		return err
	}
	if _, err := b.result(task); err != nil {
		return err
	}
	sw := simulator.Map.Get(dvs.Reference()).(*simulator.DistributedVirtualSwitch)
	for _, ref := range sw.Portgroup {
		pg := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup)
		if pg.Name == n.Name {
			b.nets[n.Name] = ref
			b.dvpg[n.Name] = types.DistributedVirtualSwitchPortConnection{SwitchUuid: sw.Uuid, PortgroupKey: pg.Key}
			// the port group's VLAN, where a distributed port group keeps it (API reference,
			// VmwareDistributedVirtualSwitchVlanIdSpec in the VMwareDVSPortSetting of config.defaultPortConfig)
			setting, _ := pg.Config.DefaultPortConfig.(*types.VMwareDVSPortSetting)
			if setting == nil {
				setting = &types.VMwareDVSPortSetting{}
				pg.Config.DefaultPortConfig = setting
			}
			setting.Vlan = &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: n.VLAN}
			// a distributed port group reaches every member host of its switch
			setNetworkHosts(ref, b.members[n.Switch])
			return nil
		}
	}
	return fmt.Errorf("port group not created")
}

// addStandardPortgroup adds a port group of the same name to its switch on each
// host. As on vCenter, the hosts then share one Network object of that name.
func (b *builder) addStandardPortgroup(n networkSpec) error {
	refs, err := b.hostRefs(n.Hosts)
	if err != nil {
		return err
	}
	for i, hostName := range n.Hosts {
		host := simulator.Map.Get(b.hosts[hostName].Reference()).(*simulator.HostSystem)
		ns := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
		spec := types.HostPortGroupSpec{Name: n.Name, VlanId: n.VLAN, VswitchName: standardSwitch(n), Policy: types.HostNetworkPolicy{}}
		if i == 0 {
			nsObj := object.NewHostNetworkSystem(b.c, ns.Reference())
			if err := nsObj.AddPortGroup(b.ctx, spec); err != nil {
				if _, dup := existingNetwork(b.dc.Reference(), n.Name); !dup {
					return err
				}
			}
			continue
		}
		// the simulator refuses the same name on a second host; record it directly
		if hasPortgroup(ns, n.Name) {
			continue
		}
		ns.NetworkInfo.Portgroup = append(ns.NetworkInfo.Portgroup, types.HostPortGroup{
			Key: "key-vim.host.PortGroup-" + n.Name, Spec: spec})
		for j := range ns.NetworkInfo.Vswitch {
			if ns.NetworkInfo.Vswitch[j].Name == spec.VswitchName {
				ns.NetworkInfo.Vswitch[j].Portgroup = append(ns.NetworkInfo.Vswitch[j].Portgroup, n.Name)
			}
		}
	}
	ref, ok := existingNetwork(b.dc.Reference(), n.Name)
	if !ok {
		return fmt.Errorf("port group not created")
	}
	b.nets[n.Name] = ref
	setNetworkHosts(ref, refs)
	return nil
}

func existingNetwork(dc types.ManagedObjectReference, name string) (types.ManagedObjectReference, bool) {
	d := simulator.Map.Get(dc).(*simulator.Datacenter)
	for _, ref := range d.Network {
		if e, ok := simulator.Map.Get(ref).(mo.Entity); ok && e.Entity().Name == name && ref.Type == "Network" {
			return ref, true
		}
	}
	return types.ManagedObjectReference{}, false
}

// setNetworkHosts makes network.host exactly `hosts`, and host.network agree
// (written directly, while the inventory is built).
func setNetworkHosts(ref types.ManagedObjectReference, hosts []types.ManagedObjectReference) {
	switch n := simulator.Map.Get(ref).(type) {
	case *mo.Network:
		n.Host = hosts
	case *simulator.DistributedVirtualPortgroup:
		n.Host = hosts
	}
	for _, h := range hosts {
		host := simulator.Map.Get(h).(*simulator.HostSystem)
		if !containsRef(host.Network, ref) {
			host.Network = append(append([]types.ManagedObjectReference(nil), host.Network...), ref)
		}
	}
}

func (b *builder) vmStep() error {
	for _, v := range b.s.VMs {
		host, ok := b.hosts[v.Host]
		if !ok {
			return fmt.Errorf("vm %s: no host %s", v.Name, v.Host)
		}
		if _, ok := b.ds[v.Datastore]; !ok {
			return fmt.Errorf("vm %s: no datastore %s", v.Name, v.Datastore)
		}
		// the memory reservation in ConfigSpec.memoryAllocation, with the engine's defaults for the rest
		memory := types.DefaultResourceConfigSpec().MemoryAllocation
		memory.Reservation = types.NewInt64(v.MemoryReservationMB)
		spec := types.VirtualMachineConfigSpec{
			Name: v.Name, GuestId: v.GuestID, MemoryMB: int64(v.MemoryMB), NumCPUs: v.CPUs, Version: v.Version,
			Files:            &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", v.Datastore)},
			MemoryAllocation: &memory,
		}
		devices, err := b.devices(v)
		if err != nil {
			return fmt.Errorf("vm %s: %v", v.Name, err)
		}
		spec.DeviceChange = devices
		task, err := b.folders.VmFolder.CreateVM(b.ctx, spec, b.pools[v.Host], host)
		if err != nil {
			return fmt.Errorf("vm %s: %v", v.Name, err)
		}
		res, err := b.result(task)
		if err != nil {
			return fmt.Errorf("vm %s: %v", v.Name, err)
		}
		vm := object.NewVirtualMachine(b.c, res.Result.(types.ManagedObjectReference))
		if v.Workload != nil {
			lab.workloads[vm.Reference()] = *v.Workload
		}
		if v.PowerState == "poweredOn" || v.PowerState == "suspended" {
			t, err := vm.PowerOn(b.ctx)
			if err == nil {
				_, err = b.result(t)
			}
			if err != nil {
				return fmt.Errorf("vm %s: power on: %v", v.Name, err)
			}
		}
		if v.PowerState == "suspended" { // suspended after running: it keeps its CPU feature requirement
			t, err := vm.Suspend(b.ctx)
			if err == nil {
				_, err = b.result(t)
			}
			if err != nil {
				return fmt.Errorf("vm %s: suspend: %v", v.Name, err)
			}
		}
		obj := simulator.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
		if v.PowerState == "poweredOff" { // connected is "valid only while the virtual machine is running"
			setConnected(obj, false)
		}
		var reqs []types.VirtualMachineFeatureRequirement
		for _, k := range sortedKeys(v.FeatureRequirement) {
			reqs = append(reqs, types.VirtualMachineFeatureRequirement{Key: k, FeatureName: k, Value: v.FeatureRequirement[k]})
		}
		obj.Runtime.FeatureRequirement = reqs
		obj.Runtime.MinRequiredEVCModeKey = v.MinEVCModeKey
	}
	return nil
}

// result is a finished task's outcome. The engine runs the build's tasks to the end inside the call that
// starts them, so the result is read from the task itself; a task still running is waited for as a client
// waits. Waiting through the PropertyCollector cost four more round trips a task, which made most of the time
// a large scenario took to build.
func (b *builder) result(task *object.Task) (*types.TaskInfo, error) {
	if t, ok := simulator.Map.Get(task.Reference()).(*simulator.Task); ok {
		switch t.Info.State {
		case types.TaskInfoStateSuccess:
			info := t.Info
			return &info, nil
		case types.TaskInfoStateError:
			if t.Info.Error != nil {
				return nil, fmt.Errorf("%s", t.Info.Error.LocalizedMessage)
			}
			return nil, fmt.Errorf("task %s failed", t.Self.Value)
		}
	}
	return task.WaitForResult(b.ctx, nil)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (b *builder) devices(v vmSpec) ([]types.BaseVirtualDeviceConfigSpec, error) {
	var out []types.BaseVirtualDeviceConfigSpec
	add := func(d types.BaseVirtualDevice, op types.VirtualDeviceConfigSpecFileOperation) {
		out = append(out, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: op, Device: d})
	}
	key := int32(-100)
	next := func() int32 { key--; return key }
	add(&types.VirtualLsiLogicController{VirtualSCSIController: types.VirtualSCSIController{
		SharedBus: types.VirtualSCSISharingNoSharing, VirtualController: types.VirtualController{
			BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: 1000}}}}, "")
	disk := &types.VirtualDisk{CapacityInKB: v.DiskGB << 20, VirtualDevice: types.VirtualDevice{
		Key: next(), ControllerKey: 1000, UnitNumber: types.NewInt32(0),
		Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: string(types.VirtualDiskModePersistent),
			ThinProvisioned: types.NewBool(true), VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
				FileName: fmt.Sprintf("[%s] %s/%s.vmdk", v.Datastore, v.Name, v.Name)}}}}
	disk.CapacityInBytes = disk.CapacityInKB << 10
	disk.DeviceInfo = &types.Description{Label: "Hard disk 1", Summary: fmt.Sprintf("%d GB", v.DiskGB)}
	disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).Uuid = diskUUID(v.Name, disk.Key)
	add(disk, types.VirtualDeviceConfigSpecFileOperationCreate)
	for i, name := range v.Networks {
		ref, ok := b.nets[name]
		if !ok {
			return nil, fmt.Errorf("no network %s", name)
		}
		nic := &types.VirtualVmxnet3{}
		card := nic.GetVirtualEthernetCard()
		card.Key = next()
		card.DeviceInfo = &types.Description{Label: fmt.Sprintf("Network adapter %d", i+1), Summary: name}
		card.AddressType = string(types.VirtualEthernetCardMacTypeGenerated)
		card.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: v.NicConnected, Connected: v.NicConnected}
		if port, isDV := b.dvpg[name]; isDV && ref.Type == "DistributedVirtualPortgroup" {
			// early binding: the NIC owns its port, which moves with it on vMotion
			port.PortKey = strconv.Itoa(b.dvPorts)
			b.dvPorts++
			card.Backing = &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{Port: port}
		} else {
			card.Backing = &types.VirtualEthernetCardNetworkBackingInfo{
				VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: name}}
		}
		add(nic, "")
	}
	ordinal := map[string]int{} // the vSphere Client numbers devices per kind: "CD/DVD drive 1", "Serial port 1"
	usb := false
	for _, d := range v.Devices {
		if d.Kind == "usb" && !usb { // a USB device needs the VM's USB controller
			usb = true
			add(&types.VirtualUSBController{AutoConnectDevices: types.NewBool(false), EhciEnabled: types.NewBool(true),
				VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: usbControllerKey,
					ControllerKey: pciControllerKey, DeviceInfo: &types.Description{Label: "USB controller", Summary: "USB 2.0"}}}}, "")
		}
		dev, err := b.labDevice(v, d, next())
		if err != nil {
			return nil, err
		}
		kind := deviceKind(dev)
		ordinal[kind]++
		dev.GetVirtualDevice().DeviceInfo = &types.Description{Label: fmt.Sprintf("%s %d", kind, ordinal[kind]), Summary: d.Kind}
		add(dev, "")
	}
	return out, nil
}

// The device keys ESXi gives a VM's PCI controller and its USB controller.
const (
	pciControllerKey = 100
	usbControllerKey = 7000
)

// labDevice builds the devices a scenario may attach; host-backed ones are the
// ones that keep a VM from leaving its host.
func (b *builder) labDevice(v vmSpec, d deviceSpec, key int32) (types.BaseVirtualDevice, error) {
	connect := &types.VirtualDeviceConnectInfo{StartConnected: d.Connected, Connected: d.Connected, AllowGuestControl: true}
	base := types.VirtualDevice{Key: key, Connectable: connect}
	switch d.Kind {
	case "cdrom":
		base.ControllerKey = 200
		base.UnitNumber = types.NewInt32(0)
		switch d.Backing {
		case "host":
			base.Backing = &types.VirtualCdromAtapiBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/vmfs/devices/cdrom/mpx.vmhba0:C0:T0:L0"}}
		case "iso":
			ds := d.Datastore
			if ds == "" {
				ds = v.Datastore
			}
			ref, ok := b.ds[ds]
			if !ok {
				return nil, fmt.Errorf("cdrom: no datastore %s", ds)
			}
			if err := isoImage(ref); err != nil {
				return nil, fmt.Errorf("cdrom: %v", err)
			}
			base.Backing = &types.VirtualCdromIsoBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
				FileName: fmt.Sprintf("[%s] %s", ds, isoPath), Datastore: &ref}}
		case "client":
			base.Backing = &types.VirtualCdromRemotePassthroughBackingInfo{VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{DeviceName: ""}}
		default:
			return nil, fmt.Errorf("cdrom backing %q: use host, iso or client", d.Backing)
		}
		return &types.VirtualCdrom{VirtualDevice: base}, nil
	case "usb":
		if d.Backing != "" && d.Backing != "host" {
			return nil, fmt.Errorf("usb backing %q: use host", d.Backing)
		}
		base.ControllerKey = usbControllerKey
		if d.VMotion {
			// configured for vMotion: the device stays on the host it is plugged into, named by the autoconnect
			// pattern with that host's id; "hostname must identify the local host on which the virtual machine
			// is running" (API reference, VirtualUSBRemoteHostBackingInfo)
			base.Backing = &types.VirtualUSBRemoteHostBackingInfo{Hostname: v.Host,
				VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{
					DeviceName: fmt.Sprintf("path:1/0/1 hostId:%s", b.hostID(v.Host))}}
		} else {
			base.Backing = &types.VirtualUSBUSBBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "path:1/0/1 version:2"}}
		}
		return &types.VirtualUSB{VirtualDevice: base, Connected: d.Connected}, nil
	case "serial":
		base.Backing = &types.VirtualSerialPortDeviceBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/dev/char/serial/uart0"}}
		return &types.VirtualSerialPort{VirtualDevice: base, YieldOnPoll: true}, nil
	case "pci":
		base.Backing = &types.VirtualPCIPassthroughDeviceBackingInfo{Id: "0000:3b:00.0", DeviceId: "1021", SystemId: "lab", VendorId: 0x15b3,
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "lab passthrough NIC"}}
		return &types.VirtualPCIPassthrough{VirtualDevice: base}, nil
	}
	return nil, fmt.Errorf("device kind %q: use cdrom, usb, serial or pci", d.Kind)
}

// isoPath is where a scenario's ISO image lies in its datastore.
const isoPath = "iso/linux.iso"

// isoImage puts an (empty) ISO image in the datastore's folder once, so that the datastore browser finds the file
// a CD/DVD drive names.
func isoImage(ref types.ManagedObjectReference) error {
	ds, ok := simulator.Map.Get(ref).(*simulator.Datastore)
	if !ok {
		return fmt.Errorf("no datastore %s", ref.Value)
	}
	p := filepath.Join(ds.Info.GetDatastoreInfo().Url, filepath.FromSlash(isoPath))
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o644)
}

// hostID is the id a USB autoconnect pattern names a host by: its hardware UUID.
func (b *builder) hostID(name string) string {
	if h, ok := b.hosts[name]; ok {
		if hs, ok := simulator.Map.Get(h.Reference()).(*simulator.HostSystem); ok && hs.Hardware != nil {
			return hs.Hardware.SystemInfo.Uuid
		}
	}
	return name
}

// labRoot makes and enters the folder that holds the scenario's datastores.
func labRoot() (string, error) {
	dir, err := os.MkdirTemp("", "labsim-")
	if err != nil {
		return "", err
	}
	return dir, os.Chdir(dir)
}

// diskUUID is a disk's backing UUID in vSphere's form (vmdk ddb.uuid, which
// ESXi starts with 6000C29), fixed for a VM name and device key so that a
// scenario always loads the same disks.
func diskUUID(vm string, key int32) string {
	sum := sha1.Sum([]byte(fmt.Sprintf("%s/%d", vm, key)))
	h := "6000c29" + hex.EncodeToString(sum[:])[:25]
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:32])
}
