package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

// TestListBodies: the list and 202 bodies encode as the one-key objects the API has always sent,
// empty and nil lists included.
func TestListBodies(t *testing.T) {
	for _, c := range []struct {
		body any
		want map[string]any
	}{
		{wire.FunctionList{Functions: []wire.FunctionSummary{{Name: "f", Latest: 1}}}, map[string]any{"functions": []wire.FunctionSummary{{Name: "f", Latest: 1}}}},
		{wire.FunctionList{}, map[string]any{"functions": []wire.FunctionSummary(nil)}},
		{wire.VersionList{Versions: []events.Version{}}, map[string]any{"versions": []events.Version{}}},
		{wire.AliasList{Aliases: []wire.AliasInfo{{Name: "live", Version: 2}}}, map[string]any{"aliases": []wire.AliasInfo{{Name: "live", Version: 2}}}},
		{wire.TriggerList{Triggers: []wire.TriggerView{}}, map[string]any{"triggers": []wire.TriggerView{}}},
		{wire.Accepted{InvocationID: "id"}, map[string]any{"invocationId": "id"}},
	} {
		got, _ := json.Marshal(c.body)
		want, _ := json.Marshal(c.want)
		if string(got) != string(want) {
			t.Errorf("%T: %s, want %s", c.body, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "0d": 0, "90m": 90 * time.Minute} {
		if d, err := wire.ParseDuration(s); err != nil || d != want {
			t.Errorf("%s: %v %v", s, d, err)
		}
	}
	for _, s := range []string{"-1d", "xd", "7"} {
		if _, err := wire.ParseDuration(s); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}
