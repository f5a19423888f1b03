package events

import (
	"strconv"
	"time"
)

// WorkerBeat is a worker's heartbeat in the sluice_workers bucket, under its id; the bucket's TTL
// removes a worker that stopped beating, so its share of every function passes to the others.
type WorkerBeat struct {
	ID             string         `json:"id"`
	Host           string         `json:"host"`
	Started        time.Time      `json:"started"`
	Updated        time.Time      `json:"updated"`
	Runtimes       []string       `json:"runtimes"`         // runtimes this worker can run
	MemoryBudgetMB int            `json:"memoryBudgetMB"`   // memory it may give instances in all
	MemoryUsedMB   int            `json:"memoryUsedMB"`     // memory its instances are set to now
	Instances      map[string]int `json:"instances"`        // running instances by function
	Busy           map[string]int `json:"busy"`             // of which handling an invocation now
	Active         map[string]int `json:"active,omitempty"` // of which ran an invocation lately (busy ones too)
	Draining       bool           `json:"draining,omitempty"`
}

// ClaimKey is the sluice_claims key by which a worker holds one of a function's instance slots
// (0 ≤ slot < max); a worker starts an instance only while it holds a slot for it, so all
// workers together never run more than max.
func ClaimKey(fn string, slot int) string { return "claim." + fn + "." + itoa(slot) }

// ScaleKey is the sluice_scale key of the scaler's decision for a function.
func ScaleKey(fn string) string { return "desired." + fn }

// ScalerLeaseKey is the sluice_claims key of the lease held by the one scaler that acts.
const ScalerLeaseKey = "lease.scaler"

func itoa(n int) string { return strconv.Itoa(n) }
