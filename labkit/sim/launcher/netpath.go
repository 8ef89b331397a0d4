package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The vMotion network between two hosts, as the packets see it. vCenter's pre-check does not test it: a route or
// an MTU the path cannot carry shows only when the migration sends data (Broadcom KB 417889: "Increased vMotion
// duration that eventually times out"; KB 340170: a vMotion between adapters with no route "fails at 23%" with
// "Cannot connect to host"). The lab's rules:
//   - route: two adapters in one IP subnet reach each other; adapters in different subnets do when each has a
//     default gateway in its own subnet: the adapter's own (HostVirtualNicSpec.ipRouteSpec, "default gateway
//     override") or its TCP/IP stack's (the vMotion stack has a default gateway of its own: vSphere
//     Networking, "Place vMotion Traffic on the vMotion TCP/IP Stack"). The lab's routers route between any
//     two gateways;
//   - MTU: vMotion's TCP connection sends segments sized by the smaller MTU of its two ends (each end announces
//     its maximum segment size, RFC 9293 3.7.1), with the don't-fragment bit set (KB 419088). A physical
//     network whose MTU (the scenario's physicalMtu) is below that drops every full-sized segment: the
//     connection opens, and no data arrives. A virtual switch's MTU is not modelled as a limit on the path.

// defaultPhysicalMTU: a scenario that says nothing has a physical network that carries jumbo frames.
const defaultPhysicalMTU = 9000

// pathIssue says why vMotion traffic cannot flow between two adapters: "" when it can, "route" or "mtu".
type pathIssue struct {
	kind   string
	detail string
	packet int32 // the largest frame the connection sends (the smaller end MTU)
	path   int32 // the largest frame the path carries
}

func nicIP(nic types.HostVirtualNic) (net.IP, *net.IPNet) {
	if nic.Spec.Ip == nil || nic.Spec.Ip.IpAddress == "" {
		return nil, nil
	}
	ip := net.ParseIP(nic.Spec.Ip.IpAddress)
	mask := net.IPMask(net.ParseIP(nic.Spec.Ip.SubnetMask).To4())
	if ip == nil || mask == nil {
		return ip, nil
	}
	return ip, &net.IPNet{IP: ip.Mask(mask), Mask: mask}
}

// gateway is the default gateway an adapter's traffic to another subnet takes: its own override, else its
// TCP/IP stack's; "" when that gateway is not in the adapter's subnet (it cannot be reached).
func gateway(h *simulator.HostSystem, nic types.HostVirtualNic) string {
	_, subnet := nicIP(nic)
	gw := ""
	if rs := nic.Spec.IpRouteSpec; rs != nil && rs.IpRouteConfig != nil {
		gw = rs.IpRouteConfig.GetHostIpRouteConfig().DefaultGateway
	}
	if gw == "" {
		stack := nic.Spec.NetStackInstanceKey
		if stack == "" {
			stack = defaultStack
		}
		for _, s := range hostNetwork(h).NetStackInstance {
			if s.Key == stack && s.IpRouteConfig != nil {
				gw = s.IpRouteConfig.GetHostIpRouteConfig().DefaultGateway
			}
		}
		if stack == defaultStack && gw == "" && h.Config != nil && h.Config.Network != nil && h.Config.Network.IpRouteConfig != nil {
			gw = h.Config.Network.IpRouteConfig.GetHostIpRouteConfig().DefaultGateway
		}
	}
	if ip := net.ParseIP(gw); ip == nil || subnet == nil || !subnet.Contains(ip) {
		return ""
	}
	return gw
}

// reach tests the path from adapter a on host ha to adapter b on host hb for frames of `size` bytes (0: the
// size the vMotion connection would send).
func reach(ha *simulator.HostSystem, a types.HostVirtualNic, hb *simulator.HostSystem, b types.HostVirtualNic, size int32) pathIssue {
	ipA, netA := nicIP(a)
	ipB, netB := nicIP(b)
	dhcp := func(n types.HostVirtualNic) bool { return n.Spec.Ip != nil && n.Spec.Ip.Dhcp }
	if (ipA == nil && !dhcp(a)) || (ipB == nil && !dhcp(b)) {
		return pathIssue{kind: "route", detail: "an adapter has no IPv4 address"}
	}
	// an adapter on DHCP takes an address in the vMotion network's subnet (the lab has no DHCP server; it
	// assumes the network's own)
	sameSubnet := dhcp(a) || dhcp(b) || (netA != nil && netA.Contains(ipB) && netB != nil && netB.Contains(ipA))
	if !sameSubnet && (gateway(ha, a) == "" || gateway(hb, b) == "") {
		return pathIssue{kind: "route", detail: fmt.Sprintf("no route from %s (%s) to %s (%s)", ipA, a.Device, ipB, b.Device)}
	}
	packet := vnicMTU(a)
	if m := vnicMTU(b); m < packet {
		packet = m
	}
	if size > 0 {
		packet = size
	}
	path := lab.physicalMTU
	if packet > path {
		return pathIssue{kind: "mtu", packet: packet, path: path,
			detail: fmt.Sprintf("frames of %d bytes from %s to %s are dropped on the way", packet, ipA, ipB)}
	}
	return pathIssue{packet: packet, path: path}
}

// vmotionPath tests every pair of vMotion adapters a migration from src to dest would use (the i-th adapter of
// each host, as many pairs as the host with fewer has): the first broken pair, else the first pair's path.
func vmotionPath(src, dest *simulator.HostSystem) pathIssue {
	a, b := vmotionNics(src), vmotionNics(dest)
	var ok pathIssue
	for i := 0; i < len(a) && i < len(b); i++ {
		p := reach(src, a[i], dest, b[i], 0)
		if p.kind != "" {
			return p
		}
		if i == 0 {
			ok = p
		}
	}
	return ok
}

// -- vmkping -----------------------------------------------------------------

// The lab's vmkping: ESXi's `vmkping -I vmkN [-d] [-s SIZE] [-c COUNT] ADDRESS` (esxcli network diag ping:
// --interface, --df, --size, --count) sends ICMP echo requests of SIZE data bytes (plus 28 bytes of IP and ICMP
// headers) from one VMkernel adapter, and reports which came back. The lab answers it from the same path rules
// a migration's traffic meets. It is served at /labkit/vmkping (a lab endpoint, not a vSphere API: ESXi runs
// vmkping in its shell), with the lab's user name and password.

type pingReply struct {
	Host        string   `json:"host"`
	Interface   string   `json:"interface"`
	Netstack    string   `json:"netstack"` // the adapter's TCP/IP stack
	Routed      bool     `json:"routed"`   // the target is in another subnet: the reply crossed a router
	Source      string   `json:"source"`
	Target      string   `json:"target"`
	Size        int32    `json:"size"`
	DF          bool     `json:"df"`
	Transmitted int      `json:"transmitted"`
	Received    int      `json:"received"`
	Error       string   `json:"error,omitempty"`
	Lines       []string `json:"lines"`
}

func findHostByName(name string) *simulator.HostSystem {
	for _, obj := range simulator.Map.All("HostSystem") {
		if h, ok := obj.(*simulator.HostSystem); ok && h.Name == name {
			return h
		}
	}
	return nil
}

// adapterAt finds the VMkernel adapter that holds an IPv4 address, on any host.
func adapterAt(ip string) (*simulator.HostSystem, *types.HostVirtualNic) {
	for _, obj := range simulator.Map.All("HostSystem") {
		h, ok := obj.(*simulator.HostSystem)
		if !ok || lab.vnics[h.Self] == nil {
			continue
		}
		for i, nic := range lab.vnics[h.Self].nics {
			if nic.Spec.Ip != nil && nic.Spec.Ip.IpAddress == ip {
				return h, &lab.vnics[h.Self].nics[i]
			}
		}
	}
	return nil, nil
}

func vmkping(hostName, device, target string, size int32, df bool, count int) (pingReply, error) {
	r := pingReply{Host: hostName, Interface: device, Target: target, Size: size, DF: df, Transmitted: count}
	h := findHostByName(hostName)
	if h == nil {
		return r, fmt.Errorf("there is no host %q", hostName)
	}
	st := lab.vnics[h.Self]
	var src *types.HostVirtualNic
	if st != nil {
		if i := st.find(device); i >= 0 {
			src = &st.nics[i]
		}
	}
	if src == nil {
		return r, fmt.Errorf("there is no VMkernel adapter %q on %s", device, hostName)
	}
	if net.ParseIP(target) == nil {
		return r, fmt.Errorf("%q is not an IPv4 address", target)
	}
	if src.Spec.Ip != nil {
		r.Source = src.Spec.Ip.IpAddress
	}
	r.Netstack = src.Spec.NetStackInstanceKey
	if r.Netstack == "" {
		r.Netstack = defaultStack
	}
	if _, subnet := nicIP(*src); subnet != nil && !subnet.Contains(net.ParseIP(target)) {
		r.Routed = true
	}
	frame := size + 28 // IP and ICMP headers
	r.Lines = append(r.Lines, fmt.Sprintf("PING %s (%s): %d data bytes", target, target, size))
	fail := func(msg string) (pingReply, error) {
		r.Error = msg
		for i := 0; i < count; i++ {
			r.Lines = append(r.Lines, msg)
		}
		r.Lines = append(r.Lines, "", fmt.Sprintf("--- %s ping statistics ---", target),
			fmt.Sprintf("%d packets transmitted, 0 packets received, 100%% packet loss", count))
		return r, nil
	}
	if df && frame > vnicMTU(*src) {
		return fail("sendto() failed (Message too long)")
	}
	// without -d the sender splits a large request into fragments of its adapter's MTU; the largest frame on the
	// wire is then that MTU. A frame larger than the physical network's MTU or the receiver's is dropped.
	wire := frame
	if m := vnicMTU(*src); wire > m {
		wire = m
	}
	if ip := net.ParseIP(target); ip != nil && gateway(h, *src) == ip.String() {
		if wire > lab.physicalMTU { // the adapter's own gateway answers across the physical network
			return fail("(no reply: the request was dropped on the way)")
		}
		return answer(&r, target, size, count)
	}
	dh, dst := adapterAt(target)
	if dst == nil {
		if _, subnet := nicIP(*src); (subnet == nil || !subnet.Contains(net.ParseIP(target))) && gateway(h, *src) == "" {
			return fail("sendto() failed (Network is unreachable)")
		}
		return fail("(no reply: no VMkernel adapter of the lab holds " + target + ")")
	}
	p := reach(h, *src, dh, *dst, wire)
	switch {
	case p.kind == "route":
		if _, subnet := nicIP(*src); (subnet == nil || !subnet.Contains(net.ParseIP(target))) && gateway(h, *src) == "" {
			return fail("sendto() failed (Network is unreachable)") // the sender has no route
		}
		return fail("(no reply: the way back has no route)")
	case p.kind == "mtu" || wire > vnicMTU(*dst):
		return fail("(no reply: the request was dropped on the way)")
	}
	return answer(&r, target, size, count)
}

// answer fills in a ping that every request of came back.
func answer(r *pingReply, target string, size int32, count int) (pingReply, error) {
	r.Received = count
	ttl := 64
	if r.Routed { // one router on the way back
		ttl = 63
	}
	for i := 0; i < count; i++ {
		r.Lines = append(r.Lines, fmt.Sprintf("%d bytes from %s: icmp_seq=%d ttl=%d", size+8, target, i, ttl))
	}
	r.Lines = append(r.Lines, "", fmt.Sprintf("--- %s ping statistics ---", target),
		fmt.Sprintf("%d packets transmitted, %d packets received, 0%% packet loss", count, count))
	return *r, nil
}

// labAuth checks a lab endpoint's caller: the lab's user name and password (HTTP basic authentication).
func labAuth(w http.ResponseWriter, r *http.Request, user, password string) bool {
	if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
		w.Header().Set("WWW-Authenticate", `Basic realm="lab"`)
		http.Error(w, "the lab's user name and password are needed", http.StatusUnauthorized)
		return false
	}
	return true
}

// serveClock answers GET /labkit/clock: the lab's time scale and its clock, in simulated seconds since it
// started (a lab endpoint: labkit converts real durations with it).
func serveClock(w http.ResponseWriter, r *http.Request, user, password string) {
	if !labAuth(w, r, user, password) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]float64{"timeScale": lab.timeScale, "simSeconds": simNow()})
}

// serveVmkping answers GET /labkit/vmkping?host=esx-01&interface=vmk1&target=10.10.0.12&size=8972&df=1&count=3.
func serveVmkping(w http.ResponseWriter, r *http.Request, user, password string) {
	if !labAuth(w, r, user, password) {
		return
	}
	q := r.URL.Query()
	size, count := int64(56), int64(3)
	var err error
	if s := q.Get("size"); s != "" {
		if size, err = strconv.ParseInt(s, 10, 32); err != nil || size < 0 || size > 65507 {
			http.Error(w, "size must be a number of bytes from 0 to 65507", http.StatusBadRequest)
			return
		}
	}
	if s := q.Get("count"); s != "" {
		if count, err = strconv.ParseInt(s, 10, 32); err != nil || count < 1 || count > 100 {
			http.Error(w, "count must be from 1 to 100", http.StatusBadRequest)
			return
		}
	}
	df := strings.EqualFold(q.Get("df"), "1") || strings.EqualFold(q.Get("df"), "true")
	reply, err := vmkping(q.Get("host"), q.Get("interface"), q.Get("target"), int32(size), df, int(count))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}
