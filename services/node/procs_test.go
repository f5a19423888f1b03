package node_test

import (
	"testing"

	"sluice.dev/services/node"
)

func TestProcs(t *testing.T) {
	for _, tc := range []struct {
		env       string
		available int
		want      int
	}{
		{"", 1, 1},
		{"", 2, 1},
		{"", 3, 2},
		{"", 8, 4},
		{"", 0, 1},
		{"3", 2, 3},    // the operator's choice stands
		{"0", 4, 2},    // not a count: the default
		{"-1", 4, 2},   // nor this
		{"many", 4, 2}, // nor this
	} {
		if got := node.Procs(tc.env, tc.available); got != tc.want {
			t.Errorf("Procs(%q, %d) = %d, want %d", tc.env, tc.available, got, tc.want)
		}
	}
}
