package main

import (
	"strings"
	"testing"
	"time"
)

func TestAgainstFloor(t *testing.T) {
	x := row{baseline: "—", ratio: "n/a"}
	againstFloor(&x, 200*time.Microsecond, 0)
	if x.baseline != "—" || x.ratio != "n/a" {
		t.Errorf("no floor measured: got baseline %q, ratio %q; want the row as it was", x.baseline, x.ratio)
	}
	againstFloor(&x, 200*time.Microsecond, 50*time.Microsecond)
	if !strings.HasPrefix(x.baseline, "50 µs (") || x.ratio != "4.0×" {
		t.Errorf("200 µs against a floor of 50: got baseline %q, ratio %q", x.baseline, x.ratio)
	}
	y := row{ratio: "n/a"}
	againstFloor(&y, 0, 50*time.Microsecond)
	if y.ratio != "n/a" || !strings.HasPrefix(y.baseline, "50 µs") {
		t.Errorf("nothing measured against a floor: got baseline %q, ratio %q", y.baseline, y.ratio)
	}
}
