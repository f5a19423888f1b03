package events_test

import (
	"encoding/json"
	"slices"
	"testing"

	"sluice.dev/events"
)

// The records a function names are found whatever the answer's order; an identifier no record
// has fails them all, as Lambda does.
func TestFailedRecords(t *testing.T) {
	data := []byte(`{"Records":[{"messageId":"a"},{"messageId":"b"},{"messageId":"c"}]}`)
	ids := func(rs []json.RawMessage) []string {
		var out []string
		for _, r := range rs {
			var v struct{ MessageID string }
			_ = json.Unmarshal(r, &v)
			out = append(out, v.MessageID)
		}
		return out
	}
	for answer, want := range map[string][]string{
		`{"batchItemFailures":[{"itemIdentifier":"c"},{"itemIdentifier":"a"}]}`: {"a", "c"},
		`{"batchItemFailures":[]}`: nil,
		`null`:                     nil,
		`"done"`:                   nil,
		`{"batchItemFailures":[{"itemIdentifier":"zz"}]}`: {"a", "b", "c"},
		`{"batchItemFailures":[{"itemIdentifier":""}]}`:   {"a", "b", "c"},
	} {
		got, err := events.FailedRecords(data, []byte(answer))
		if !slices.Equal(ids(got), want) {
			t.Errorf("%s: %v (%v), want %v", answer, ids(got), err, want)
		}
	}
}
