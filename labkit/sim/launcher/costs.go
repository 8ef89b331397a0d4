package main

// The cost model vCenter uses to limit simultaneous migrations (VMware, vSphere 6.7 vCenter Server and Host
// Management, "Limits on Simultaneous Migrations"; Broadcom KB 326281, "Resource Manager Settings for Managing
// Migrations"): every migration costs something against each resource it uses, every resource has a maximum,
// and a migration that would push a resource over its maximum waits until running ones finish. The numbers are
// labkit/migration_limits.py's (lesson 01a), which cites each; tests/test_precopy_go.py proves the two tables
// equal. This file has no simulator imports, so that test can build it alone.

const (
	kindVMotion       = "vMotion"
	kindStorage       = "Storage vMotion"
	kindWithoutShared = "vMotion without shared storage"
)

// migrationCosts is migration_limits.COSTS: kind -> resource ("host", "network", "datastore") -> cost.
var migrationCosts = map[string]map[string]int{
	kindVMotion:       {"host": 1, "network": 1, "datastore": 1},
	kindStorage:       {"host": 4, "network": 0, "datastore": 16},
	kindWithoutShared: {"host": 4, "network": 1, "datastore": 16},
}

// networkMaxCost is migration_limits.NETWORK_MAX_COST: a host's vMotion network, by link class.
var networkMaxCost = map[string]int{"1GbE": 4, "10GbE": 8}

const (
	hostMaxCost      = 8   // migration_limits.HOST_MAX_COST
	datastoreMaxCost = 128 // migration_limits.DATASTORE_MAX_COST
)

// linkClass is the row of the network table a vMotion link of mbps falls in: 10GbE from 10,000 Mb/s.
func linkClass(mbps float64) string {
	if mbps >= 10000 {
		return "10GbE"
	}
	return "1GbE"
}

// maxCost is the maximum cost of one resource; a network's depends on its link class.
func maxCost(resource, class string) int {
	switch resource {
	case "host":
		return hostMaxCost
	case "network":
		return networkMaxCost[class]
	}
	return datastoreMaxCost
}
