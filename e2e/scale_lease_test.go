package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice.dev/events/testkit"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// serveScaler starts `sluice serve scaler` against the node's bus; it is killed when the test ends.
func serveScaler(t *testing.T, n *node) *process {
	const role = "scaler"
	t.Helper()
	args := []string{"serve", role, "--nats", n.NATSURL}
	cmd := exec.Command(n.site.bin, args...)
	cmd.Env = n.site.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, out: newOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice serve %s: %v", role, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice serve %s (pid %d) output (last lines):\n%s", role, cmd.Process.Pid, p.out.tail(40))
		}
		p.kill()
	})
	return p
}

// holderOf is the scaler id a `sluice serve scaler` process writes into the lease: HOST-PID.
func holderOf(p *process) string { return "-" + strconv.Itoa(p.cmd.Process.Pid) }

// Two `sluice serve scaler` processes on a node without its own scaler: the first holds the
// lease and writes the decisions; SIGKILLed, it stops refreshing, the lease expires with the
// claims' TTL and the second takes it and writes the decisions from then on.
func TestScalerLeaseMovesWhenItsProcessDies(t *testing.T) {
	n := newSite(t).start(t, "--isolation", "off", "--no-scaler")
	_, js := natsClient(t, n.NATSURL)
	ctx := t.Context()
	claims, err := js.KeyValue(ctx, events.BucketClaims)
	if err != nil {
		t.Fatal(err)
	}
	scale, err := js.KeyValue(ctx, events.BucketScale)
	if err != nil {
		t.Fatal(err)
	}
	deployInline(t, n, "leased", "def handler(e, c):\n    return 1\n", "--min", "1")

	holder := func() (string, error) {
		e, err := claims.Get(ctx, events.ScalerLeaseKey)
		if err != nil {
			return "", err
		}
		return string(e.Value()), nil
	}
	decidedBy := func() (string, error) {
		e, err := scale.Get(ctx, events.ScaleKey("leased"))
		if err != nil {
			return "", err
		}
		var d struct {
			Desired int    `json:"desired"`
			By      string `json:"by"`
		}
		if err := json.Unmarshal(e.Value(), &d); err != nil {
			return "", err
		}
		if d.Desired != 1 {
			return "", fmt.Errorf("desired %d, want min 1", d.Desired)
		}
		return d.By, nil
	}
	if _, err := holder(); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a scaler lease without any scaler: %v", err)
	}

	first := serveScaler(t, n)
	waitFor := func(what string, p *process, read func() (string, error)) {
		t.Helper()
		testkit.EventuallyEvery(t, 40*time.Second, 100*time.Millisecond, func() error {
			got, err := read()
			if err != nil {
				return err
			}
			if !strings.HasSuffix(got, holderOf(p)) {
				return fmt.Errorf("%s is %q, want the scaler with pid %d", what, got, p.cmd.Process.Pid)
			}
			return nil
		})
	}
	waitFor("the lease holder", first, holder)
	waitFor("the decision's scaler", first, decidedBy)

	second := serveScaler(t, n)
	// The second scaler runs passive: once it is up, the lease and the decisions stay the first's.
	testkit.EventuallyEvery(t, 20*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(second.out.tail(200), "sluice serving") {
			return fmt.Errorf("the second scaler does not serve yet")
		}
		return nil
	})
	if got, err := holder(); err != nil || !strings.HasSuffix(got, holderOf(first)) {
		t.Fatalf("lease holder %q (%v) with two scalers, want the first", got, err)
	}

	first.kill() // SIGKILL: no Delete of the lease, it must expire
	killed := time.Now()
	waitFor("the lease holder", second, holder)
	waitFor("the decision's scaler", second, decidedBy)
	t.Logf("the second scaler acted %s after the first was killed", time.Since(killed).Round(100*time.Millisecond))
}
