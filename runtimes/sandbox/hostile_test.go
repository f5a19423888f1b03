package sandbox

import (
	"os"
	"slices"
	"testing"
)

func TestIdentityAndView(t *testing.T) {
	sb := isolated(t, Options{})
	cat := newCatalog(t)
	n := newNode(t)
	for _, fx := range fixtures {
		t.Run(fx.runtime, func(t *testing.T) {
			i := start(t, cat, config(n, fx, "ids", sb))
			var got struct {
				UID, EUID, GID  int
				Groups          []int
				Hostname, CWD   string
				TaskRoot        string `json:"task_root"`
				Task, Root, Etc []string
				Procs           []int
				FDs             map[string]string
				Pid1            string
			}
			call(t, i, map[string]any{}, &got)
			t.Logf("%+v", got)
			j := sb.last()
			for _, p := range j.pids {
				if u := uidOf(t, p); u != DefaultUID {
					t.Errorf("outside, process %d runs as uid %d", p, u)
				}
			}
			_ = os.Getpid
			_ = slices.Contains[[]string]
		})
	}
}
