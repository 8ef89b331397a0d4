package main

// The course's pre-copy model, for one migration, in the lab simulator: the same rules, in the same order, as
// labkit/precopy/model.py (whose module documentation gives each rule and its source). The two are one model:
// tests/test_precopy_go.py runs both on the same input sets and requires the same rounds and times.
//
// Units follow labkit/precopy/params.py: 4 KiB pages, seconds, Gb/s (10^9 bit/s), MiB (2^20 bytes).

import (
	"math"
)

const (
	pageBytes     = 4096.0
	pagesPerMiB   = (1 << 20) / pageBytes
	zeroPageBytes = 8.0 // what an all-zero page costs on the wire (params.ZERO_PAGE_BYTES)
)

// precopyEfficiency is params.EFFICIENCY: 1448 payload bytes per 1538 bytes on the wire, rounded to 3 places.
var precopyEfficiency = math.Round(1448.0/1538.0*1000) / 1000

// precopyInput is one migration's inputs: model.DEFAULTS where a field is left at its zero value by
// defaultPrecopyInput. HotSetMiB is +Inf for "no working set".
type precopyInput struct {
	MemoryMiB          float64 `json:"memory_mib"`
	DirtyRateMiBps     float64 `json:"dirty_rate_mibps"`
	HotSetMiB          float64 `json:"hot_set_mib"`
	ZeroMiB            float64 `json:"zero_mib"`
	HotShare           float64 `json:"hot_share"`
	LinkGbps           float64 `json:"link_gbps"`
	NICs               float64 `json:"nics"`
	Efficiency         float64 `json:"efficiency"`
	SwitchoverS        float64 `json:"switchover_s"`
	MaxSwitchoverS     float64 `json:"max_switchover_s"`
	MaxRounds          float64 `json:"max_rounds"`
	MaxDataFactor      float64 `json:"max_data_factor"`
	SDPS               bool    `json:"sdps"`
	ThrottleInitialPct float64 `json:"throttle_initial_pct"`
	ThrottleStepPct    float64 `json:"throttle_step_pct"`
	ThrottleMaxPct     float64 `json:"throttle_max_pct"`
	ThrottleTrigger    float64 `json:"throttle_trigger"`
	ThrottleRounds     float64 `json:"throttle_rounds"`
}

// defaultPrecopyInput is model.DEFAULTS for a VM of memoryMiB dirtying dirtyRateMiBps.
func defaultPrecopyInput(memoryMiB, dirtyRateMiBps float64) precopyInput {
	return precopyInput{
		MemoryMiB: memoryMiB, DirtyRateMiBps: dirtyRateMiBps, HotSetMiB: math.Inf(1), HotShare: 1,
		LinkGbps: 10, NICs: 1, Efficiency: precopyEfficiency, SwitchoverS: 0.5, MaxSwitchoverS: 100,
		MaxRounds: 29, MaxDataFactor: 3, SDPS: true, ThrottleInitialPct: 20, ThrottleStepPct: 10,
		ThrottleMaxPct: 99, ThrottleTrigger: 0.5, ThrottleRounds: 2,
	}
}

// precopyRound is one row of model.Migration.rounds.
type precopyRound struct {
	Round       int     `json:"round"`
	Phase       string  `json:"phase"` // "pre-copy" or "switchover"
	StartS      float64 `json:"start_s"`
	DurationS   float64 `json:"duration_s"`
	SentPages   float64 `json:"sent_pages"`
	DirtiedPgs  float64 `json:"dirtied_pages"`
	Remaining   float64 `json:"remaining_pages"`
	ThrottlePct float64 `json:"throttle_pct"`
}

// precopyResult is model.Migration.summary.
type precopyResult struct {
	Outcome        string         `json:"outcome"` // "converged", "long switchover" or "failed"
	StopReason     string         `json:"stop_reason"`
	Rounds         int            `json:"rounds"`
	PrecopyS       float64        `json:"precopy_s"`
	DowntimeS      float64        `json:"downtime_s"`
	TotalS         float64        `json:"total_s"`
	SentGiB        float64        `json:"sent_gib"`
	MaxThrottlePct float64        `json:"max_throttle_pct"`
	BandwidthGbps  float64        `json:"bandwidth_gbps"`
	History        []precopyRound `json:"history"`
}

var precopyStopReasons = [...]string{"", "fits the switchover budget", "round limit", "data limit"}

// uniqueDirtied is model.unique_dirtied for one class: n·(1 − e^(−w·T/n)), or w·T when n is infinite.
func uniqueDirtied(size, rate, seconds float64) float64 {
	writes := rate * seconds
	switch {
	case math.IsInf(size, 1):
		return writes
	case size > 0:
		return size * -math.Expm1(-writes/size)
	default:
		return 0
	}
}

// simulatePrecopy runs one migration round by round, as model._run does for one configuration.
func simulatePrecopy(in precopyInput) precopyResult {
	sendRate := in.LinkGbps * in.NICs * in.Efficiency * 1e9 / 8 / pageBytes
	memory := in.MemoryMiB * pagesPerMiB
	rate := in.DirtyRateMiBps * pagesPerMiB
	hot := in.HotSetMiB * pagesPerMiB
	// the page classes (model.page_classes): a hot set and the cold rest, each with its share of the writes
	cold := 0.0
	if !math.IsInf(hot, 1) {
		cold = memory - hot
	}
	share := 1.0
	if cold > 0 {
		share = in.HotShare
	}
	sizes := [2]float64{hot, cold}
	rates := [2]float64{share * rate, (1 - share) * rate}
	budget := sendRate * in.SwitchoverS
	dataLimit := memory * in.MaxDataFactor

	toSend := memory - in.ZeroMiB*pagesPerMiB*(1-zeroPageBytes/pageBytes)
	var clock, sent, throttle, maxThrottle, remaining float64
	rounds, high, stop := 0, 0, 0
	var history []precopyRound

	steps := math.Ceil((in.ThrottleMaxPct - in.ThrottleInitialPct) / math.Max(in.ThrottleStepPct, 1e-9))
	throttleRounds := 0.0
	if in.SDPS {
		throttleRounds = in.ThrottleRounds * (2 + math.Max(steps, 0))
	}
	for i := 0; i < int(in.MaxRounds+throttleRounds) && stop == 0; i++ {
		duration := toSend / sendRate
		dirtied := 0.0
		for c := range sizes {
			dirtied += uniqueDirtied(sizes[c], rates[c]*(1-throttle/100), duration)
		}
		dirtied = math.Min(dirtied, memory) // no more pages can be dirty than the VM has
		history = append(history, precopyRound{Round: rounds + 1, Phase: "pre-copy", StartS: clock,
			DurationS: duration, SentPages: toSend, DirtiedPgs: dirtied, Remaining: dirtied, ThrottlePct: throttle})
		clock += duration
		sent += toSend
		rounds++
		remaining = dirtied

		// with SDPS on, pre-copy gives up at a limit only once the throttle is at its maximum
		giveUp := !in.SDPS || throttle >= in.ThrottleMaxPct
		switch {
		case remaining <= budget:
			stop = 1
		case giveUp && float64(rounds) >= in.MaxRounds:
			stop = 2
		case giveUp && sent >= dataLimit:
			stop = 3
		}
		// SDPS: count the rounds that re-dirtied too much; throttle harder every ThrottleRounds of them
		if stop == 0 && in.SDPS {
			if dirtied > in.ThrottleTrigger*toSend {
				high++
			}
			if float64(high) >= in.ThrottleRounds {
				if throttle == 0 {
					throttle = in.ThrottleInitialPct
				} else {
					throttle += in.ThrottleStepPct
				}
				throttle = math.Min(throttle, in.ThrottleMaxPct)
				high = 0
			}
		}
		maxThrottle = math.Max(maxThrottle, throttle)
		if stop == 0 {
			toSend = remaining
		}
	}

	downtime := remaining / sendRate
	outcome := "converged"
	if stop != 1 {
		outcome = "long switchover"
		if downtime > in.MaxSwitchoverS {
			outcome = "failed"
		}
	}
	sentTotal := sent + remaining
	if outcome == "failed" {
		downtime, sentTotal = 0, sent
	} else {
		history = append(history, precopyRound{Round: rounds + 1, Phase: "switchover", StartS: clock,
			DurationS: downtime, SentPages: remaining, ThrottlePct: throttle})
	}
	return precopyResult{
		Outcome: outcome, StopReason: precopyStopReasons[stop], Rounds: rounds, PrecopyS: clock,
		DowntimeS: downtime, TotalS: clock + downtime, SentGiB: sentTotal / pagesPerMiB / 1024,
		MaxThrottlePct: maxThrottle, BandwidthGbps: sendRate * pageBytes * 8 / 1e9, History: history,
	}
}
