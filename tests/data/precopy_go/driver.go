package main

// A driver for tests/test_precopy_go.py: each stdin line is a JSON object of model inputs (absent fields and
// null take model.DEFAULTS; null hot_set_mib means no working set); each stdout line is the result. The line "limits" answers the
// cost model's tables instead (costs.go).

import (
	"bufio"
	"encoding/json"
	"os"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if in.Text() == `"limits"` { // the cost model's tables (costs.go)
			if err := out.Encode(map[string]interface{}{"costs": migrationCosts, "network": networkMaxCost,
				"host": hostMaxCost, "datastore": datastoreMaxCost}); err != nil {
				panic(err)
			}
			continue
		}
		var head struct {
			MemoryMiB      float64 `json:"memory_mib"`
			DirtyRateMiBps float64 `json:"dirty_rate_mibps"`
		}
		if err := json.Unmarshal(in.Bytes(), &head); err != nil {
			panic(err)
		}
		cfg := defaultPrecopyInput(head.MemoryMiB, head.DirtyRateMiBps)
		if err := json.Unmarshal(in.Bytes(), &cfg); err != nil {
			panic(err)
		}
		if err := out.Encode(simulatePrecopy(cfg)); err != nil {
			panic(err)
		}
	}
}
