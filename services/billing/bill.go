package billing

import (
	"math"
	"slices"
	"strings"
	"time"

	"sluice.dev/events"
)

// Currency of every price and cost.
const Currency = "USD"

// mbMsPerGBSecond converts billed MB·ms to GB-seconds.
const mbMsPerGBSecond = 1024 * 1000

// Usage is what one function used: requests and billed MB·ms.
type Usage struct {
	Requests int64
	MBms     int64
}

// Add counts one meter record.
func (u *Usage) Add(m events.Meter) {
	u.Requests++
	u.MBms += m.BilledMs * int64(m.MemoryMB)
}

// Ledger sums usage by function. The zero value is not usable; make one with NewLedger.
type Ledger map[string]*Usage

// NewLedger makes an empty ledger.
func NewLedger() Ledger { return Ledger{} }

// Add counts one meter record under its function.
func (l Ledger) Add(m events.Meter) {
	u := l[m.Function]
	if u == nil {
		u = &Usage{}
		l[m.Function] = u
	}
	u.Add(m)
}

// Line is one function's part of a bill, before the free tier.
type Line struct {
	Function    string  `json:"function"`
	Requests    int64   `json:"requests"`
	GBSeconds   float64 `json:"gbSeconds"`
	MBms        int64   `json:"billedMBms"` // billed ms × memory MB, summed exactly
	RequestCost float64 `json:"requestCost"`
	ComputeCost float64 `json:"computeCost"`
	Cost        float64 `json:"cost"`
}

// FreeTier is what the free tier took off the total.
type FreeTier struct {
	Requests  int64   `json:"requests"`
	GBSeconds float64 `json:"gbSeconds"`
	Amount    float64 `json:"amount"`
}

// Total is the bill's total, after the free tier.
type Total struct {
	Requests        int64    `json:"requests"`
	GBSeconds       float64  `json:"gbSeconds"`
	MBms            int64    `json:"billedMBms"`
	RequestCost     float64  `json:"requestCost"`
	ComputeCost     float64  `json:"computeCost"`
	Cost            float64  `json:"cost"`
	FreeTierApplied FreeTier `json:"freeTierApplied"`
}

// Bill is the answer of GET /v1/billing.
type Bill struct {
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
	Currency  string    `json:"currency"`
	Prices    Prices    `json:"prices"`
	Functions []Line    `json:"functions"`
	Total     Total     `json:"total"`
}

// Make prices a ledger: one line per function, by name, and the total with the free tier.
func Make(p Prices, l Ledger, since, until time.Time) Bill {
	b := Bill{Since: since.UTC(), Until: until.UTC(), Currency: Currency, Prices: p, Functions: []Line{}}
	var t Total
	for fn, u := range l {
		line := Line{Function: fn, Requests: u.Requests, MBms: u.MBms, GBSeconds: gbSeconds(u.MBms)}
		line.RequestCost = requestCost(p, line.Requests)
		line.ComputeCost = money(line.GBSeconds * p.PerGBSecond)
		line.Cost = money(line.RequestCost + line.ComputeCost)
		b.Functions = append(b.Functions, line)
		t.Requests += u.Requests
		t.MBms += u.MBms
	}
	slices.SortFunc(b.Functions, func(x, y Line) int { return strings.Compare(x.Function, y.Function) })
	t.GBSeconds = gbSeconds(t.MBms)
	grossRequests, grossCompute := requestCost(p, t.Requests), t.GBSeconds*p.PerGBSecond
	t.FreeTierApplied.Requests = min(t.Requests, p.FreeRequests)
	t.FreeTierApplied.GBSeconds = min(t.GBSeconds, p.FreeGBSeconds)
	t.RequestCost = requestCost(p, t.Requests-t.FreeTierApplied.Requests)
	t.ComputeCost = money((t.GBSeconds - t.FreeTierApplied.GBSeconds) * p.PerGBSecond)
	t.Cost = money(t.RequestCost + t.ComputeCost)
	t.FreeTierApplied.Amount = money(grossRequests + money(grossCompute) - t.Cost)
	b.Total = t
	return b
}

func gbSeconds(mbms int64) float64 { return float64(mbms) / mbMsPerGBSecond }

func requestCost(p Prices, n int64) float64 { return money(float64(n) * p.PerMillionRequests / 1e6) }

// money rounds an amount to 1e-12 USD, below any price, so that sums print as people expect
// (0.0000008, not 0.0000008000000000000001).
func money(v float64) float64 { return math.Round(v*1e12) / 1e12 }
