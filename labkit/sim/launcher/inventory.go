package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vmware/govmomi/simulator"
)

// counts sizes a generated inventory. The flag names and defaults are vcsim's.
type counts struct {
	datacenter, cluster, clusterHost, standaloneHost int
	machine, pool, datastore, portgroup, folder      int
}

func (c *counts) register(fs *flag.FlagSet) {
	fs.IntVar(&c.datacenter, "dc", 1, "number of datacenters")
	fs.IntVar(&c.cluster, "cluster", 1, "number of clusters per datacenter")
	fs.IntVar(&c.clusterHost, "host", 3, "number of hosts per cluster")
	fs.IntVar(&c.standaloneHost, "standalone-host", 1, "number of standalone hosts per datacenter")
	fs.IntVar(&c.machine, "vm", 2, "number of virtual machines per resource pool")
	fs.IntVar(&c.pool, "pool", 1, "number of resource pools per compute resource")
	fs.IntVar(&c.datastore, "ds", 1, "number of local datastores")
	fs.IntVar(&c.portgroup, "pg", 1, "number of distributed port groups")
	fs.IntVar(&c.folder, "folder", 0, "number of folders per datacenter folder")
}

func (c *counts) validate() error {
	for name, n := range map[string]int{
		"dc": c.datacenter, "cluster": c.cluster, "host": c.clusterHost,
		"standalone-host": c.standaloneHost, "vm": c.machine, "pool": c.pool,
		"ds": c.datastore, "pg": c.portgroup, "folder": c.folder,
	} {
		if n < 0 {
			return fmt.Errorf("-%s must not be negative", name)
		}
	}
	return nil
}

// buildModel returns a vCenter model, generated from the counts or loaded from
// a directory of saved objects.
func buildModel(o *options) (*simulator.Model, error) {
	model := simulator.VPX()
	if o.load != "" {
		if st, err := os.Stat(o.load); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("-load %s: not a directory", o.load)
		}
		if err := model.Load(o.load); err != nil {
			return nil, fmt.Errorf("-load %s: %v", o.load, err)
		}
		return model, nil
	}
	if err := o.counts.validate(); err != nil {
		return nil, err
	}
	c := o.counts
	model.Datacenter = c.datacenter
	model.Cluster = c.cluster
	model.ClusterHost = c.clusterHost
	model.Host = c.standaloneHost
	model.Machine = c.machine
	model.Pool = c.pool
	model.Datastore = c.datastore
	model.Portgroup = c.portgroup
	model.Folder = c.folder
	if err := model.Create(); err != nil {
		return nil, err
	}
	return model, nil
}
