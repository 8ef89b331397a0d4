package main

import (
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator package backs each datastore with a temporary directory and
// reports the capacity and free space of the disk that directory lives on, so
// every learner's lab would show different numbers. A lab datastore has a
// fixed capacity instead; its free space is that capacity less the bytes the
// datastore's files really use.

func usedBytes(dir string) int64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}

func setDatastoreCapacity(capacityGiB int) {
	capacity := int64(capacityGiB) << 30
	for _, e := range simulator.Map.All("Datastore") {
		ds, ok := e.(*simulator.Datastore)
		if !ok {
			continue
		}
		free := capacity - usedBytes(ds.Info.GetDatastoreInfo().Url)
		simulator.Map.Update(ds, []types.PropertyChange{
			{Name: "summary.capacity", Val: capacity},
			{Name: "summary.freeSpace", Val: free},
			{Name: "info.freeSpace", Val: free},
			{Name: "info.maxFileSize", Val: free},
			{Name: "info.maxMemoryFileSize", Val: free},
		})
	}
}
