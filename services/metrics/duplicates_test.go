package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestDuplicatesAreCountedByFunction(t *testing.T) {
	reg := prometheus.NewRegistry()
	counts := map[string]uint64{"f": 2}
	if err := Duplicates(reg, func() map[string]uint64 { return counts }); err != nil {
		t.Fatal(err)
	}
	if got := value(t, scrape(t, reg), "sluice_duplicate_deliveries_total", map[string]string{"function": "f"}); got != 2 {
		t.Fatalf("duplicates of f = %v, want 2", got)
	}
	counts = map[string]uint64{"f": 3, "g": 1}
	fams := scrape(t, reg)
	if f, g := value(t, fams, "sluice_duplicate_deliveries_total", map[string]string{"function": "f"}),
		value(t, fams, "sluice_duplicate_deliveries_total", map[string]string{"function": "g"}); f != 3 || g != 1 {
		t.Fatalf("duplicates f=%v g=%v, want 3 and 1", f, g)
	}
}
