package billing

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"sluice.dev/events"
)

func TestPricesFromEnv(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	p, err := FromEnv(getenv)
	if err != nil || p != DefaultPrices() {
		t.Fatalf("defaults: %+v, %v", p, err)
	}
	env[EnvPerMillionRequests], env[EnvFreeRequests], env[EnvFreeGBSeconds] = "0.5", "1000", "400000"
	if p, err = FromEnv(getenv); err != nil || p.PerMillionRequests != 0.5 || p.FreeRequests != 1000 || p.FreeGBSeconds != 400000 || p.PerGBSecond != DefaultPerGBSecond {
		t.Fatalf("set: %+v, %v", p, err)
	}
	for k, v := range map[string]string{EnvPerGBSecond: "cheap", EnvPerMillionRequests: "-1", EnvFreeRequests: "1.5", EnvFreeGBSeconds: "NaN"} {
		env := map[string]string{k: v}
		if _, err := FromEnv(func(k string) string { return env[k] }); !errors.Is(err, ErrBadPrice) {
			t.Errorf("%s=%s: %v, want ErrBadPrice", k, v, err)
		}
	}
}

func TestBillSumsExactlyAndAppliesFreeTier(t *testing.T) {
	l := NewLedger()
	for i := range 3000 {
		l.Add(events.Meter{Function: "a", BilledMs: int64(i%7 + 1), MemoryMB: 128})
	}
	l.Add(events.Meter{Function: "b", BilledMs: 1000, MemoryMB: 1024})
	p := Prices{PerMillionRequests: 0.2, PerGBSecond: 0.0000166667, FreeRequests: 1000, FreeGBSeconds: 0.5}
	b := Make(p, l, time.Unix(0, 0), time.Unix(60, 0))
	if len(b.Functions) != 2 || b.Functions[0].Function != "a" || b.Currency != "USD" {
		t.Fatalf("lines %+v", b.Functions)
	}
	var mbms int64
	for i := range 3000 {
		mbms += int64(i%7+1) * 128
	}
	a := b.Functions[0]
	if a.Requests != 3000 || a.MBms != mbms || a.GBSeconds != float64(mbms)/1024000 {
		t.Errorf("a: %+v, want MBms %d", a, mbms)
	}
	if !near(a.RequestCost, 3000*0.2/1e6) || !near(a.Cost, a.RequestCost+a.ComputeCost) {
		t.Errorf("a costs %+v", a)
	}
	tot := b.Total
	if tot.Requests != 3001 || tot.MBms != mbms+1024000 || tot.GBSeconds != float64(mbms+1024000)/1024000 {
		t.Errorf("total %+v", tot)
	}
	if tot.FreeTierApplied.Requests != 1000 || tot.FreeTierApplied.GBSeconds != 0.5 {
		t.Errorf("free tier %+v", tot.FreeTierApplied)
	}
	if !near(tot.RequestCost, 2001*0.2/1e6) || !near(tot.ComputeCost, (tot.GBSeconds-0.5)*p.PerGBSecond) {
		t.Errorf("total costs %+v", tot)
	}
	gross := b.Functions[0].Cost + b.Functions[1].Cost
	if !near(gross-tot.FreeTierApplied.Amount, tot.Cost) {
		t.Errorf("lines %v - free %v != total %v", gross, tot.FreeTierApplied.Amount, tot.Cost)
	}
	// A free tier larger than the usage makes the total free.
	b = Make(Prices{PerMillionRequests: 1, PerGBSecond: 1, FreeRequests: 1 << 40, FreeGBSeconds: 1e9}, l, time.Time{}, time.Time{})
	if b.Total.Cost != 0 || b.Total.FreeTierApplied.Requests != 3001 {
		t.Errorf("all free: %+v", b.Total)
	}
}

// near compares amounts to the bill's rounding, 1e-12 USD.
func near(a, b float64) bool { return math.Abs(a-b) <= 1.5e-12 }

func TestAmountsPrintRound(t *testing.T) {
	l := NewLedger()
	for range 4 {
		l.Add(events.Meter{Function: "f", BilledMs: 25, MemoryMB: 1024})
	}
	b := Make(DefaultPrices(), l, time.Time{}, time.Time{})
	if got := fmt.Sprint(b.Functions[0].RequestCost, " ", b.Functions[0].ComputeCost); got != "8e-07 1.66667e-06" {
		t.Errorf("costs print as %s", got)
	}
}
