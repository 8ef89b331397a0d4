package main

import (
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// A vMotion in flight: the lab runs the course's pre-copy model (precopy.go) for the VM's memory and workload
// over the hosts' vMotion network, and plays it out in lab time: the task's progress, the hosts' log lines, the
// switchover, and the failures that show only once data flows.
//
// Lab time runs timeScale times faster than real time (a scenario's timeScale, `labkit sim start --time-scale`);
// every time the lab reports (log lines, labkit's figures) is simulated.
//
// Failures in flight (each leaves the VM running on the source, as vCenter does: "If errors occur during
// migration, the virtual machines revert to their original states and locations", vSphere Virtual Machine
// Administration, "Migration with vMotion"):
//   - the vMotion network carries no data (netpath.go): the task waits the network timeout, then fails with
//     SystemError, the fault vCenter reports a vMotion that failed in flight with (Broadcom KB 307365: "vMotion
//     failed: vmodl.fault.SystemError"). The timeout is ESXi's Migrate.NetTimeout, 20 s by default (as dumped
//     from an ESXi 8.0 host; no VMware document gives it);
//   - the switchover would exceed vmotion.maxSwitchoverSeconds (100 s unless the VM's configuration sets it,
//     KB 2141355): "ESX has preemptively failed the migration to allow the VM to continue running on the
//     source" once the limit has passed;
//   - a host lost during the migration: HostNotConnected ("thrown if a method needs to communicate with a host
//     that has been disconnected", API reference).

const (
	defaultTimeScale = 50.0 // simulated seconds per real second when neither the scenario nor a flag sets one: a 24 GiB VM moves in half a second
	netTimeoutS      = 20.0 // Migrate.NetTimeout's default, simulated seconds
	maxSwitchoverKey = "vmotion.maxSwitchoverSeconds"
	progressPrepared = 10                     // the progress a migration shows once both hosts have taken it (the lab's)
	progressTickReal = 250 * time.Millisecond // the longest a running migration goes without a progress update
)

// workloadSpec is how a VM's guest writes memory (labkit resolves a profile of datasets/workloads.csv into it).
type workloadSpec struct {
	Profile        string   `json:"profile"`
	DirtyRateMiBps float64  `json:"dirtyRateMiBps"`
	HotSetMiB      *float64 `json:"hotSetMiB"` // nil: no working set
	HotShare       float64  `json:"hotShare"`
	ZeroShare      float64  `json:"zeroShare"`
}

var migrationIDs int64 = 1000

// vmotionLinkMbps is the fastest link under a host's vMotion adapters (0 when none is up).
func vmotionLinkMbps(h *simulator.HostSystem) float64 {
	best := int32(0)
	net := hostNetwork(h)
	for _, nic := range vmotionNics(h) {
		for _, p := range vnicUplinks(net, nic) {
			if p.LinkSpeed != nil && p.LinkSpeed.SpeedMb > best {
				best = p.LinkSpeed.SpeedMb
			}
		}
	}
	return float64(best)
}

// maxSwitchover reads the VM's vmotion.maxSwitchoverSeconds (config.extraConfig), or 100.
func maxSwitchover(vm *simulator.VirtualMachine) float64 {
	if vm.Config != nil {
		for _, o := range vm.Config.ExtraConfig {
			if ov := o.GetOptionValue(); ov.Key == maxSwitchoverKey {
				if v, err := strconv.ParseFloat(fmt.Sprint(ov.Value), 64); err == nil && v > 0 {
					return v
				}
			}
		}
	}
	return 100
}

func workloadOf(vm *simulator.VirtualMachine) workloadSpec {
	if w, ok := lab.workloads[vm.Self]; ok {
		return w
	}
	return lab.defaultWorkload
}

// efficiencyFor is params.EFFICIENCY for a given MTU: TCP payload (MTU - 52 bytes of IP and TCP headers with
// timestamps) over the frame on the wire (MTU + 38 bytes of Ethernet header, FCS, preamble and gap), to 3 places.
func efficiencyFor(mtu int32) float64 {
	return math.Round(float64(mtu-52)/float64(mtu+38)*1000) / 1000
}

// flightInput is the model's input for one vMotion from src to dest with a share of the link.
func flightInput(vm *simulator.VirtualMachine, src, dest *simulator.HostSystem, share int) precopyInput {
	w := workloadOf(vm)
	memory := float64(vm.Config.Hardware.MemoryMB)
	in := defaultPrecopyInput(memory, w.DirtyRateMiBps)
	if w.HotSetMiB != nil {
		in.HotSetMiB = math.Min(*w.HotSetMiB, memory)
	}
	in.HotShare = w.HotShare
	in.ZeroMiB = w.ZeroShare * memory
	link := math.Min(vmotionLinkMbps(src), vmotionLinkMbps(dest)) / 1000
	in.LinkGbps = link / float64(share)
	a, b := vmotionNics(src), vmotionNics(dest)
	in.NICs = float64(len(a))
	if len(b) < len(a) {
		in.NICs = float64(len(b))
	}
	if len(a) > 0 && len(b) > 0 {
		mtu := vnicMTU(a[0])
		if m := vnicMTU(b[0]); m < mtu {
			mtu = m
		}
		in.Efficiency = efficiencyFor(mtu)
	}
	in.MaxSwitchoverS = maxSwitchover(vm)
	return in
}

// flight is one vMotion being played out.
type flight struct {
	stage     string // what the migration is doing: connect, precopy, switchover
	id        int64
	vm        *simulator.VirtualMachine
	src, dest *simulator.HostSystem
	t         *labTask
	start     time.Time
}

func (f *flight) log(facts ...interface{}) {
	head := []interface{}{"mid", f.id, "vm", f.vm.Name}
	for _, h := range []struct {
		host *simulator.HostSystem
		role string
	}{{f.src, "S"}, {f.dest, "D"}} {
		logLine(h.host.Self, append(append([]interface{}{"role", h.role}, head...), facts...)...)
	}
}

// simElapsed is the lab time since the flight started, in simulated seconds.
func (f *flight) simElapsed() float64 { return time.Since(f.start).Seconds() * lab.timeScale }

// sleepUntil waits until `at` simulated seconds into the flight, updating the task's progress (which reaches
// `to` at `at`, from `from` at `since`) at least every progressTickReal, and stops early when a host is lost.
func (f *flight) sleepUntil(since, at float64, from, to int32) *types.LocalizedMethodFault {
	for {
		now := f.simElapsed()
		if lost := f.lostHost(); lost != nil {
			return lost
		}
		if f.t != nil && at > since {
			frac := math.Min(math.Max((now-since)/(at-since), 0), 1)
			f.t.progress(from + int32(float64(to-from)*frac))
		}
		if now >= at {
			return nil
		}
		wait := time.Duration((at - now) / lab.timeScale * float64(time.Second))
		if wait > progressTickReal {
			wait = progressTickReal
		}
		time.Sleep(wait)
	}
}

// lostHost: the source or destination is no longer connected to vCenter.
func (f *flight) lostHost() *types.LocalizedMethodFault {
	for _, h := range []*simulator.HostSystem{f.dest, f.src} {
		var state types.HostSystemConnectionState
		simulator.Map.WithLock(h, func() { state = h.Runtime.ConnectionState })
		if state != types.HostSystemConnectionStateConnected {
			reason := fmt.Sprintf("host %s is %s", h.Name, state)
			f.log("event", "failed", "sim_s", f.simElapsed(), "stage", f.stage, "reason", reason)
			return &types.LocalizedMethodFault{Fault: &types.HostNotConnected{},
				LocalizedMessage: fmt.Sprintf("The migration of %s stopped: %s is no longer connected to vCenter. The virtual machine keeps running on %s.",
					f.vm.Name, h.Name, f.src.Name)}
		}
	}
	return nil
}

func systemError(reason, message string) *types.LocalizedMethodFault {
	return &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: reason},
		LocalizedMessage: "A general system error occurred: " + message}
}

// fly plays out a vMotion of vm from src to dest with its share of the link: nil when the memory has arrived and
// the VM may switch to dest, else the fault the task ends with (the VM is still on src).
func fly(t *labTask, vm *simulator.VirtualMachine, src, dest *simulator.HostSystem, slot *slotRequest, share int) *types.LocalizedMethodFault {
	var in precopyInput
	var path pathIssue
	with(vm, func() {
		in = flightInput(vm, src, dest, share)
		path = vmotionPath(src, dest)
	})
	f := &flight{id: atomic.AddInt64(&migrationIDs, 1), vm: vm, src: src, dest: dest, t: t, start: time.Now(), stage: "connect"}
	w := workloadOf(vm)
	srcIP, destIP := firstVMotionIP(src), firstVMotionIP(dest)
	f.log("event", "start", "src", src.Name, "dest", dest.Name, "src_ip", srcIP, "dest_ip", destIP,
		"memory_mib", in.MemoryMiB, "workload", w.Profile, "dirty_rate_mibps", in.DirtyRateMiBps,
		"link_gbps", in.LinkGbps*float64(share), "share", share, "nics", in.NICs, "mtu", path.packetOr(src, dest),
		"max_switchover_s", in.MaxSwitchoverS)
	if t != nil {
		t.progress(progressPrepared)
	}
	if path.kind != "" {
		admit.planned(slot, f.start.Add(time.Duration(netTimeoutS/lab.timeScale*float64(time.Second))))
	}
	switch path.kind {
	case "route":
		if lost := f.sleepUntil(0, netTimeoutS, progressPrepared, progressPrepared); lost != nil {
			return lost
		}
		f.log("event", "failed", "sim_s", f.simElapsed(), "stage", "connect", "reason", "cannot connect to "+destIP+": "+path.detail)
		return systemError("Cannot connect to the destination host's vMotion address "+destIP+": no route.",
			fmt.Sprintf("The vMotion connection from %s (%s) to %s (%s) could not be made within %.0f s.", src.Name, srcIP, dest.Name, destIP, netTimeoutS))
	case "mtu":
		f.log("event", "connected", "sim_s", f.simElapsed(), "streams", in.NICs, "mss", path.packet-40)
		f.stage = "precopy"
		if lost := f.sleepUntil(0, netTimeoutS, progressPrepared, progressPrepared); lost != nil {
			return lost
		}
		f.log("event", "failed", "sim_s", f.simElapsed(), "stage", "precopy", "sent_pages", 0,
			"reason", fmt.Sprintf("no data crossed from %s to %s for %.0f s", srcIP, destIP, netTimeoutS))
		return systemError("Failed waiting for data: the destination received no vMotion data.",
			fmt.Sprintf("The migration of %s stopped: %s received no data on the vMotion network within %.0f s. Check the vMotion network between %s and %s.",
				vm.Name, dest.Name, netTimeoutS, src.Name, dest.Name))
	}
	r := simulatePrecopy(in)
	f.stage = "precopy"
	f.log("event", "connected", "sim_s", f.simElapsed(), "streams", in.NICs, "mss", path.packet-40,
		"bandwidth_gbps", r.BandwidthGbps)
	// progress: 10 % once prepared, 99 % when the memory is across; the last point when the VM runs on dest
	total := r.TotalS
	if r.Outcome == "failed" {
		total = r.PrecopyS + in.MaxSwitchoverS
	}
	admit.planned(slot, f.start.Add(time.Duration(total/lab.timeScale*float64(time.Second))))
	at := func(s float64) int32 { return progressPrepared + int32(89*s/math.Max(total, 1e-9)) }
	throttle := 0.0
	for _, round := range r.History {
		end := round.StartS + round.DurationS
		if round.Phase == "switchover" {
			f.stage = "switchover"
			f.log("event", "switchover", "sim_s", round.StartS, "round", round.Round, "pages", round.SentPages,
				"downtime_s", round.DurationS, "throttle_pct", round.ThrottlePct)
		}
		if round.ThrottlePct != throttle {
			throttle = round.ThrottlePct
			f.log("event", "sdps", "sim_s", round.StartS, "round", round.Round, "throttle_pct", throttle)
		}
		if lost := f.sleepUntil(round.StartS, end, at(round.StartS), at(end)); lost != nil {
			return lost
		}
		if round.Phase == "pre-copy" {
			f.log("event", "precopy", "sim_s", end, "round", round.Round, "duration_s", round.DurationS,
				"sent_pages", round.SentPages, "sent_mib", round.SentPages/pagesPerMiB, "dirtied_pages", round.DirtiedPgs,
				"throttle_pct", round.ThrottlePct)
		}
	}
	if r.Outcome == "failed" {
		f.stage = "switchover"
		f.log("event", "switchover", "sim_s", r.PrecopyS, "round", r.Rounds+1, "pages", r.History[len(r.History)-1].Remaining,
			"downtime_s", r.History[len(r.History)-1].Remaining/(r.BandwidthGbps*1e9/8/pageBytes), "throttle_pct", throttle)
		if lost := f.sleepUntil(r.PrecopyS, total, at(r.PrecopyS), at(total)); lost != nil {
			return lost
		}
		f.log("event", "failed", "sim_s", total, "stage", "switchover", "rounds", r.Rounds, "stop_reason", r.StopReason,
			"reason", fmt.Sprintf("the switchover would exceed the maximum switchover time of %.0f s", in.MaxSwitchoverS))
		return systemError("The migration has exceeded the maximum switchover time.",
			fmt.Sprintf("The migration of %s has exceeded the maximum switchover time of %.0f second(s); it was stopped so that the virtual machine continues running on %s. Raise %s or migrate while the workload writes less memory.",
				vm.Name, in.MaxSwitchoverS, src.Name, maxSwitchoverKey))
	}
	f.log("event", "completed", "sim_s", r.TotalS, "outcome", r.Outcome, "stop_reason", r.StopReason, "rounds", r.Rounds,
		"precopy_s", r.PrecopyS, "downtime_s", r.DowntimeS, "total_s", r.TotalS, "sent_gib", r.SentGiB,
		"max_throttle_pct", r.MaxThrottlePct)
	return nil
}

func firstVMotionIP(h *simulator.HostSystem) string {
	for _, nic := range vmotionNics(h) {
		if nic.Spec.Ip != nil {
			return nic.Spec.Ip.IpAddress
		}
	}
	return ""
}

// packetOr is the frame size the connection uses: the path's answer, else the smaller of the first adapters' MTUs.
func (p pathIssue) packetOr(src, dest *simulator.HostSystem) int32 {
	if p.packet > 0 {
		return p.packet
	}
	a, b := vmotionNics(src), vmotionNics(dest)
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	m := vnicMTU(a[0])
	if n := vnicMTU(b[0]); n < m {
		m = n
	}
	return m
}
