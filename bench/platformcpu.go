package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// platformRoles are the `sluice serve` processes of the P7 run: every role `sluice up` runs in
// its one process.
var platformRoles = []string{"gateway", "scaler", "adapters", "worker"}

// platformCPU is P7 with the bus in a process of its own: one `nats-server -js` on loopback and
// sluice's roles as `sluice serve` processes against it, under the async Python no-op load. The
// CPU times are each process's own threads' (utime+stime), so neither the function instances
// (the worker's children) nor the server are counted as sluice's.
type platformCPU struct {
	async throughput
	roles []time.Duration // CPU of each of platformRoles over the async run
	nats  time.Duration   // the nats-server's CPU over the same run
}

// sluice is the sluice processes' CPU together.
func (p *platformCPU) sluice() time.Duration {
	var sum time.Duration
	for _, d := range p.roles {
		sum += d
	}
	return sum
}

// perEvent divides a CPU time over the events of the run; 0 when none finished.
func (p *platformCPU) perEvent(d time.Duration) time.Duration {
	if p.async.done == 0 || d <= 0 {
		return 0
	}
	return d / time.Duration(p.async.done)
}

// measurePlatformCPU starts the server and the roles, warms the no-op up as the node's sync runs
// do (both of its instances started) and reads the processes' CPU times around the async run.
// Everything it started is stopped before it returns; nil when it could not measure.
func measurePlatformCPU(ctx context.Context, c config, r *results) *platformCPU {
	fail := func(err error) *platformCPU {
		r.note("P7 on an outside nats-server: %v", err)
		return nil
	}
	natsBin, err := natsServerBin(c)
	if err != nil {
		return fail(err)
	}
	sluiceBin, err := filepath.Abs(c.sluice)
	if err != nil {
		return fail(err)
	}
	procs, err := newProcDir("sluice-bench-p7-", "the P7 run's", c.keep)
	if err != nil {
		return fail(err)
	}
	defer procs.close()
	dir := procs.dir
	start := func(name, ready, bin string, env []string, args ...string) (*benchProc, error) {
		return procs.start(ctx, name, ready, bin, env, args...)
	}

	natsAddr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	password := randomToken()
	conf := fmt.Sprintf("listen: %s\nmax_payload: 8388608\n"+
		"authorization { user: sluice, password: %s }\n"+
		"jetstream { store_dir: %q, max_file_store: 68719476736, max_memory_store: 268435456 }\n",
		natsAddr, password, filepath.Join(dir, "nats"))
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(conf), 0o600); err != nil {
		return fail(err)
	}
	server, err := start("nats-server", "Server is ready", natsBin, os.Environ(), "-js", "-c", filepath.Join(dir, "nats.conf"))
	if err != nil {
		return fail(err)
	}
	busURL := "nats://sluice:" + password + "@" + natsAddr
	nc, err := waitJetStream(ctx, busURL)
	if err != nil {
		return fail(err)
	}
	defer nc.Close()

	env := ownEnv(dir)
	addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	token := randomToken()
	var roles []*benchProc
	for _, role := range platformRoles {
		args := []string{"serve", role, "--nats", busURL, "--data", filepath.Join(dir, role)}
		if role == "gateway" {
			args = append(args, "--listen", addr, "--token", token)
		}
		p, err := start(role, "sluice serving", sluiceBin, env, args...)
		if err != nil {
			return fail(err)
		}
		roles = append(roles, p)
	}
	n := &node{bin: sluiceBin, dir: dir, env: env, URL: "http://" + addr, Token: token}
	client := newClient(c.conc * 2)
	defer client.CloseIdleConnections()
	if err := n.waitWorkers(ctx, client, 1); err != nil {
		return fail(err)
	}
	if _, err := n.sluice(ctx, "deploy", "noop", "--runtime", "python", "--handler", "main.handler", "--inline", noopFunction, "--max", "2"); err != nil {
		return fail(err)
	}
	api := poster(client, n.URL+"/v1/functions/noop/invocations", status200, "Authorization", "Bearer "+n.Token)
	if err := firstAnswer(ctx, api, 30*time.Second); err != nil {
		return fail(fmt.Errorf("first call of the no-op: %w", err))
	}
	_ = load(ctx, c.warm, c.conc, c.phaseCap, api) // brings up the second instance, as on the node

	pids := []int{server.cmd.Process.Pid}
	for _, p := range roles {
		pids = append(pids, p.cmd.Process.Pid)
	}
	r.quiet(ctx, "P7")
	before, err := cpuTimes(pids)
	if err != nil {
		return fail(err)
	}
	res := &platformCPU{async: asyncThrough(ctx, c, n, nc, client, "noop", c.asyncN)}
	after, err := cpuTimes(pids)
	if err != nil {
		return fail(err)
	}
	if res.async.err != nil {
		r.note("P7 on an outside nats-server, async: %v", res.async.err)
	}
	res.nats = after[0] - before[0]
	for i := range roles {
		res.roles = append(res.roles, after[i+1]-before[i+1])
	}
	var parts []string
	for i, role := range platformRoles {
		parts = append(parts, fmt.Sprintf("%s %s", role, res.roles[i].Round(time.Millisecond)))
	}
	r.note("P7 on an outside nats-server: CPU over the async run of %d events in %s: %s; nats-server %s",
		res.async.done, res.async.elapsed.Round(time.Millisecond), strings.Join(parts, ", "), res.nats.Round(time.Millisecond))
	return res
}

// cpuTimes reads cpuTime of every pid.
func cpuTimes(pids []int) ([]time.Duration, error) {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d, err := cpuTime(pid)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}
