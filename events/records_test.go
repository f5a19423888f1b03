package events

import (
	"encoding/json"
	"testing"
)

func TestAliasPick(t *testing.T) {
	a := Alias{Version: 3, Additional: &Weighted{Version: 4, Weight: 0.1}}
	for draw, want := range map[float64]int{0: 4, 0.0999: 4, 0.1: 3, 0.5: 3, 0.9999: 3} {
		if got := a.Pick(draw); got != want {
			t.Errorf("Pick(%v) = %d, want %d", draw, got, want)
		}
	}
	if got := (Alias{Version: 2}).Pick(0); got != 2 {
		t.Errorf("unweighted Pick = %d", got)
	}
	if !a.Uses(3) || !a.Uses(4) || a.Uses(5) {
		t.Error("Uses")
	}
}

func TestAliasJSON(t *testing.T) {
	var f Function
	if err := json.Unmarshal([]byte(`{"name":"f","latest":4,"aliases":{"old":2,"prod":{"version":3,"additional":{"version":4,"weight":0.25}}}}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Aliases["old"].Version != 2 || f.Aliases["old"].Additional != nil {
		t.Errorf("bare number alias = %+v", f.Aliases["old"])
	}
	p := f.Aliases["prod"]
	if p.Version != 3 || p.Additional == nil || p.Additional.Version != 4 || p.Additional.Weight != 0.25 {
		t.Errorf("prod = %+v", p)
	}
	b, _ := json.Marshal(p)
	if string(b) != `{"version":3,"additional":{"version":4,"weight":0.25}}` {
		t.Errorf("marshal = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"aliases":{"x":"three"}}`), &f); err == nil {
		t.Error("a string alias decoded")
	}
}
