package main

import (
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// Admission: vCenter's limits on simultaneous migrations (costs.go). A migration that would push a host, a
// host's vMotion network or a datastore over its maximum cost "is queued until other operations complete"
// (vSphere 6.7 "Limits on Simultaneous Migrations"). The lab's queue, whose rules labkit/evacuation.py follows
// (an evacuation planned there and run here must agree):
//   - requests wait in the order they came; whenever one arrives or a migration ends, the queue is scanned in
//     order and every request that fits starts (a request that does not fit does not hold up later ones, as in
//     migration_limits.admit);
//   - the requests of one evacuation arrive together, as one batch;
//   - the vMotions that start at one instant share their hosts' vMotion links: each gets the link divided by
//     the number of vMotions then running on the busier of its two hosts' vMotion networks, and keeps that share
//     to its end (the lab's simplification; how vMotion shares a link among streams is not published). A
//     migration that ends at that same instant (within endTolerance of real time) no longer counts, so that
//     migrations that end together free the link together, as in the planner.
// Which state a queued migration's task shows is not documented either: the lab shows TaskInfo.state queued.

type slotRequest struct {
	kind       string
	src, dest  types.ManagedObjectReference
	srcClass   string // the vMotion link class of each host (linkClass)
	destClass  string
	datastores []types.ManagedObjectReference
	ready      chan int  // the migration's share, once it starts
	ends       time.Time // when its memory will have arrived (zero until the model has timed it)
}

// endTolerance: migrations planned to end this close together end at one instant.
const endTolerance = 5 * time.Millisecond

type charge struct {
	key  string
	cost int
	max  int
}

func (r *slotRequest) charges() []charge {
	c := migrationCosts[r.kind]
	out := []charge{{"host:" + r.src.Value, c["host"], maxCost("host", "")}}
	if r.dest != r.src {
		out = append(out, charge{"host:" + r.dest.Value, c["host"], maxCost("host", "")})
	}
	if c["network"] > 0 {
		out = append(out, charge{"network:" + r.src.Value, c["network"], maxCost("network", r.srcClass)})
		if r.dest != r.src {
			out = append(out, charge{"network:" + r.dest.Value, c["network"], maxCost("network", r.destClass)})
		}
	}
	for _, ds := range r.datastores {
		out = append(out, charge{"datastore:" + ds.Value, c["datastore"], maxCost("datastore", "")})
	}
	return out
}

// onNetwork: the migration sends memory over both hosts' vMotion networks.
func (r *slotRequest) onNetwork() bool { return migrationCosts[r.kind]["network"] > 0 }

type admission struct {
	mu      sync.Mutex
	used    map[string]int
	running map[*slotRequest]bool
	queue   []*slotRequest
}

var admit = &admission{used: map[string]int{}, running: map[*slotRequest]bool{}}

// planned records when a running migration will end.
func (a *admission) planned(r *slotRequest, ends time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.ends = ends
}

// flowing counts the vMotions running on host's vMotion network that do not end now.
func (a *admission) flowing(host types.ManagedObjectReference, now time.Time) int {
	n := 0
	for r := range a.running {
		if r.onNetwork() && (r.src == host || r.dest == host) && (r.ends.IsZero() || r.ends.After(now.Add(endTolerance))) {
			n++
		}
	}
	return n
}

// request queues a batch of requests and starts what fits; each request's ready channel gets its share when it
// starts.
func (a *admission) request(batch ...*slotRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range batch {
		r.ready = make(chan int, 1)
		a.queue = append(a.queue, r)
	}
	a.scan()
}

// release frees what a finished migration held and starts what now fits.
func (a *admission) release(r *slotRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range r.charges() {
		a.used[c.key] -= c.cost
	}
	delete(a.running, r)
	// migrations that end at this same instant free their slots together: the last of them starts what fits
	now := time.Now()
	for o := range a.running {
		if !o.ends.IsZero() && !o.ends.After(now.Add(endTolerance)) {
			return
		}
	}
	a.scan()
}

// waiting reports whether r is still in the queue.
func (a *admission) waiting(r *slotRequest) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, q := range a.queue {
		if q == r {
			return true
		}
	}
	return false
}

func (a *admission) scan() {
	var started, rest []*slotRequest
	for _, r := range a.queue {
		fits := true
		for _, c := range r.charges() {
			if a.used[c.key]+c.cost > c.max {
				fits = false
				break
			}
		}
		if !fits {
			rest = append(rest, r)
			continue
		}
		for _, c := range r.charges() {
			a.used[c.key] += c.cost
		}
		a.running[r] = true
		started = append(started, r)
	}
	a.queue = rest
	now := time.Now()
	for _, r := range started {
		share := 1
		if r.onNetwork() {
			share = a.flowing(r.src, now)
			if n := a.flowing(r.dest, now); n > share {
				share = n
			}
		}
		r.ready <- share
	}
}
