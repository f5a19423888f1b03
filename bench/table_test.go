package main

import (
	"strings"
	"testing"
	"time"
)

func TestAgainstFloor(t *testing.T) {
	x := row{baseline: "—", ratio: "n/a"}
	againstFloor(&x, 200*time.Microsecond, floorCPU{})
	if x.baseline != "—" || x.ratio != "n/a" {
		t.Errorf("no floor measured: got baseline %q, ratio %q; want the row as it was", x.baseline, x.ratio)
	}
	againstFloor(&x, 200*time.Microsecond, floorCPU{50 * time.Microsecond, "f"})
	if x.baseline != "50 µs (f)" || x.ratio != "4.0×" {
		t.Errorf("200 µs against a floor of 50: got baseline %q, ratio %q", x.baseline, x.ratio)
	}
	y := row{ratio: "n/a"}
	againstFloor(&y, 0, floorCPU{50 * time.Microsecond, "f"})
	if y.ratio != "n/a" || !strings.HasPrefix(y.baseline, "50 µs") {
		t.Errorf("nothing measured against a floor: got baseline %q, ratio %q", y.baseline, y.ratio)
	}
}

func TestFloorNeedsBothPrices(t *testing.T) {
	r := &results{httpCPU: 20 * time.Microsecond}
	if f := r.floor(); f.d != 0 {
		t.Errorf("floor without the bus's price: %s", f.d)
	}
	if f := r.httpFloor(); f.d != 40*time.Microsecond {
		t.Errorf("HTTP floor of 20 µs requests: %s, want 40 µs", f.d)
	}
	r.natsCPU = 10 * time.Microsecond
	if f := r.floor(); f.d != 85*time.Microsecond {
		t.Errorf("floor of 20 µs HTTP and 10 µs NATS requests: %s, want 2×20 + 4.5×10 = 85 µs", f.d)
	}
}
