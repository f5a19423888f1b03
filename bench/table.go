package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	metric, sluice, baseline, ratio, target string
}

func (r *results) markdown(c config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# sluice bench\n\n")
	fmt.Fprintf(&b, "%s, %s/%s, %d CPUs, %s. Client and server in separate processes, loopback only.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "Sync runs: %d warm-up requests discarded, then %d measured; c=%d for throughput. "+
		"JetStream pass-through: %d messages. Async: %d invocations each of the Python and the Go no-op (`--max 2`; the Go no-op is one binary "+
		"built here with sluice's Go SDK, deployed as built and run as it is under RIE); "+
		"P7 runs the Python ones again on `sluice serve` processes and one outside nats-server, CPU read per process. "+
		"Cold: %d functions per runtime, each invoked once, %s apart. Cap %s per phase.\n",
		c.warm, c.syncN, c.conc, c.streamN, c.asyncN, c.coldN, c.coldPause, c.phaseCap)
	if len(r.quietWaits) > 0 {
		fmt.Fprintf(&b, "Each sync, async, P7, cluster and baseline phase, and each cold invocation, began on a quiet machine (its CPUs at most %.0f%% busy over %d windows of %s in a row; "+
			"where idle CPUs halt, a warm pool's JVM or Mono process starting makes round trips several times faster): %d waits took %s to %s.\n",
			100*r.quietAt, quietRuns, quietWindow, len(r.quietWaits), slices.Min(r.quietWaits).Round(time.Millisecond), slices.Max(r.quietWaits).Round(time.Millisecond))
	}
	b.WriteString("\n")

	rows := []row{
		latencyRow("P1 sync invoke p50, `/v1/.../invocations`, c=1", r.v1C1, r.natsRR, 0.5, "core NATS req/reply", "≤ 3×", 3),
		p99Row("P1 sync invoke p99, `/v1/.../invocations`, c=1", r.v1C1, r.natsRR),
		latencyRow("sync invoke p50, function URL `/fn/noop`, c=1", r.fnC1, r.natsRR, 0.5, "core NATS req/reply", "≤ 3×", 3),
		p99Row("sync invoke p99, function URL `/fn/noop`, c=1", r.fnC1, r.natsRR),
		latencyRow("sync invoke p50, function URL `/fn/noop`, c=1, vs a peer: the same Python no-op and bootstrap under AWS Lambda RIE (no bus, no sandbox)", r.fnC1, r.rie, 0.5, "RIE", "≤ 1.2×", 1.2),
		latencyRow("sync invoke p99, same, vs AWS Lambda RIE", r.fnC1, r.rie, 0.99, "RIE", "", 0),
		latencyRow("sync invoke p50, function URL `/fn/"+goNoopName+"`, c=1, Go no-op (sluice's Go SDK)", r.goFnC1, r.natsRR, 0.5, "core NATS req/reply", "", 0),
		latencyRow(fmt.Sprintf("sync invoke p50, function URL `/fn/%s`, c=1, vs a peer: the same Go no-op binary under AWS Lambda RIE (no bus, no sandbox; GOMAXPROCS=%d, as sluice sets it)", goNoopName, goMaxProcs), r.goFnC1, r.goRIE, 0.5, "RIE", "≤ 1.2×", 1.2),
		latencyRow("sync invoke p99, same Go no-op, vs AWS Lambda RIE", r.goFnC1, r.goRIE, 0.99, "RIE", "", 0),
		latencyRow("sync invoke p50 vs bare net/http, c=1", r.v1C1, r.httpC1, 0.5, "net/http", "", 0),
		rateRow("sync invokes/s, c=1", r.v1C1, r.httpC1),
		rateRow(fmt.Sprintf("sync invokes/s, c=%d", c.conc), r.v1CN, r.httpCN),
		asyncRow("P2 async end to end, Python no-op, events/s", r.async, r.jsPass, 0.1),
		asyncRow("P2 async end to end, Go no-op (sluice's Go SDK), events/s", r.asyncGo, r.jsPass, 0.25),
	}
	rows = append(rows, platformRows(r.platform, r.floor())...)
	rows = append(rows, embeddedCPURow(r.cpuPerEvent, r.async, r.httpFloor()))
	rows = append(rows, []row{
		latencyRow("P3 cold invoke p50, Python hello (through the gateway)", r.cold["python"].cold, r.cold["python"].bare, 0.5, "bare `python3 -c pass`", "≤ 0.25×", 0.25),
		latencyRow("cold invoke p99, Python hello", r.cold["python"].cold, r.cold["python"].bare, 0.99, "bare `python3 -c pass`", "", 0),
		latencyRow("P4 cold invoke p50, Node.js hello (through the gateway)", r.cold["nodejs"].cold, r.cold["nodejs"].bare, 0.5, "bare `node -e 0`", "≤ 0.1×", 0.1),
		latencyRow("cold invoke p99, Node.js hello", r.cold["nodejs"].cold, r.cold["nodejs"].bare, 0.99, "bare `node -e 0`", "", 0),
		latencyRow("P9 cold invoke p50, Java hello (through the gateway; a pre-started JVM specialised)", r.cold["java"].cold, r.cold["java"].bare, 0.5, "bare `java -cp DIR Hello`", "≤ 0.25×", 0.25),
		latencyRow("cold invoke p99, Java hello", r.cold["java"].cold, r.cold["java"].bare, 0.99, "bare `java -cp DIR Hello`", "", 0),
		latencyRow("P10 cold invoke p50, C# hello (through the gateway; a pre-started Mono specialised)", r.cold["dotnet"].cold, r.cold["dotnet"].bare, 0.5, "bare `mono hello.exe`", "≤ 0.25×", 0.25),
		latencyRow("cold invoke p99, C# hello", r.cold["dotnet"].cold, r.cold["dotnet"].bare, 0.99, "bare `mono hello.exe`", "", 0),
		latencyRow("warm invoke p50, Python hello, same run", r.cold["python"].warm, r.cold["python"].bare, 0.5, "bare `python3 -c pass`", "", 0),
		latencyRow("warm invoke p50, Node.js hello, same run", r.cold["nodejs"].warm, r.cold["nodejs"].bare, 0.5, "bare `node -e 0`", "", 0),
		latencyRow("warm invoke p50, Java hello, same run", r.cold["java"].warm, r.cold["java"].bare, 0.5, "bare `java -cp DIR Hello`", "", 0),
		latencyRow("warm invoke p50, C# hello, same run", r.cold["dotnet"].warm, r.cold["dotnet"].bare, 0.5, "bare `mono hello.exe`", "", 0),
	}...)
	if r.scale != nil {
		rows = append(rows, scaleRows(*r.scale)...)
	}
	if r.cluster != nil {
		rows = append(rows, clusterRows(r.cluster, r.async, r.jsPass, r.platform)...)
	}
	b.WriteString("| metric | sluice | baseline | ratio | target |\n|---|---|---|---|---|\n")
	for _, x := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", x.metric, x.sluice, x.baseline, x.ratio, x.target)
	}

	b.WriteString("\nBaselines measured in the same run:\n\n| baseline | p50 | p99 | per second |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| core NATS request/reply, c=1 | %s | %s | %s |\n", dur(r.natsRR, 0.5), dur(r.natsRR, 0.99), rate(r.natsRR.perSecond()))
	fmt.Fprintf(&b, "| bare net/http keep-alive, c=1 | %s | %s | %s |\n", dur(r.httpC1, 0.5), dur(r.httpC1, 0.99), rate(r.httpC1.perSecond()))
	fmt.Fprintf(&b, "| bare net/http keep-alive, c=%d | %s | %s | %s |\n", c.conc, dur(r.httpCN, 0.5), dur(r.httpCN, 0.99), rate(r.httpCN.perSecond()))
	if r.httpCPU > 0 {
		fmt.Fprintf(&b, "| bare net/http keep-alive, c=%d: the server process's CPU per request | %s | | |\n", c.conc, micros(r.httpCPU))
	}
	if r.natsCPU > 0 {
		fmt.Fprintf(&b, "| core NATS request/reply, c=%d: the responder process's CPU per request | %s | | |\n", c.conc, micros(r.natsCPU))
	}
	fmt.Fprintf(&b, "| JetStream publish+consume pass-through | | | %s |\n", rate(r.jsPass.perSecond()))
	if r.rie.ok() {
		fmt.Fprintf(&b, "| peer: AWS Lambda RIE, the same Python no-op, c=1 | %s | %s | %s |\n", dur(r.rie, 0.5), dur(r.rie, 0.99), rate(r.rie.perSecond()))
	}
	if r.goRIE.ok() {
		fmt.Fprintf(&b, "| peer: AWS Lambda RIE, the same Go no-op binary (GOMAXPROCS=%d), c=1 | %s | %s | %s |\n", goMaxProcs, dur(r.goRIE, 0.5), dur(r.goRIE, 0.99), rate(r.goRIE.perSecond()))
	}
	if r.async.accepted > 0 {
		fmt.Fprintf(&b, "\nsluice accepted the %d async invocations (202) at %s; all of them had finished at %s.\n",
			r.async.n, rate(float64(r.async.n)/r.async.accepted.Seconds()), rate(r.async.perSecond()))
	}
	if len(r.notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// latencyRow compares a quantile of sluice to the same quantile of a baseline; want > 0 is the
// target ratio (at most).
func latencyRow(metric string, s, base sample, q float64, baseName, target string, want float64) row {
	x := row{metric: metric, sluice: dur(s, q), baseline: dur(base, q) + " (" + baseName + ")", ratio: "n/a", target: target}
	if s.ok() && base.ok() {
		ratio := float64(s.quantile(q)) / float64(base.quantile(q))
		x.ratio = fmt.Sprintf("%.1f×", ratio)
		if ratio < 1 {
			x.ratio = fmt.Sprintf("%.2f×", ratio)
		}
		if want > 0 {
			x.target += verdict(ratio <= want)
		}
	}
	if x.target == "" {
		x.target = "—"
	}
	return x
}

// p99Row holds sluice's p99 to the absolute P1 target of 2 ms.
func p99Row(metric string, s, base sample) row {
	x := row{metric: metric, sluice: dur(s, 0.99), baseline: dur(base, 0.99) + " (core NATS req/reply)", ratio: "n/a", target: "≤ 2 ms"}
	if s.ok() && base.ok() {
		x.ratio = fmt.Sprintf("%.1f×", float64(s.quantile(0.99))/float64(base.quantile(0.99)))
		x.target += verdict(s.quantile(0.99) <= 2*time.Millisecond)
	}
	return x
}

func rateRow(metric string, s, base sample) row {
	x := row{metric: metric, sluice: rate(s.perSecond()), baseline: rate(base.perSecond()) + " (net/http)", ratio: "n/a", target: "—"}
	if s.ok() && base.ok() {
		x.ratio = fmt.Sprintf("%.2f×", s.perSecond()/base.perSecond())
	}
	return x
}

// asyncRow compares an async run to the JetStream pass-through; want is the target ratio (at
// least).
func asyncRow(metric string, s, base throughput, want float64) row {
	x := row{metric: metric, sluice: rate(s.perSecond()),
		baseline: rate(base.perSecond()) + " (JetStream pass-through)", ratio: "n/a", target: fmt.Sprintf("≥ %g×", want)}
	if s.perSecond() > 0 && base.perSecond() > 0 {
		ratio := s.perSecond() / base.perSecond()
		x.ratio = fmt.Sprintf("%.2f×", ratio)
		x.target += verdict(ratio >= want)
	}
	return x
}

// platformTarget is P7's target: CPU of sluice's own processes per async event.
const platformTarget = 60 * time.Microsecond

// floor is the least CPU any processes of sluice's contracts could spend on an async event,
// each exchange priced at what a bare server spends on one request at c>1: two HTTP exchanges
// (the call at the gateway; at the Runtime API the bootstrap's answer with its next request)
// and four and a half bus exchanges (the event's publish and its acknowledgement, the pull and
// its delivery, the result's and the meter record's stores and acknowledgements, and the
// event's acknowledgement one way). 0 unless both were measured.
func (r *results) floor() floorCPU {
	if r.httpCPU <= 0 || r.natsCPU <= 0 {
		return floorCPU{}
	}
	return floorCPU{d: 2*r.httpCPU + 9*r.natsCPU/2, name: "floor: 2 HTTP and 4.5 NATS exchanges, each a bare server's CPU per request at c>1"}
}

// httpFloor is the floor's HTTP part alone, for a process whose bus exchanges have no socket
// (the all-in-one node's embedded server).
func (r *results) httpFloor() floorCPU {
	if r.httpCPU <= 0 {
		return floorCPU{}
	}
	return floorCPU{d: 2 * r.httpCPU, name: "floor: 2 HTTP exchanges, each a bare server's CPU per request at c>1"}
}

// floorCPU is a floor of CPU per event and what it is.
type floorCPU struct {
	d    time.Duration
	name string
}

// againstFloor fills a CPU-per-event row's baseline and ratio with the floor, when measured.
func againstFloor(x *row, d time.Duration, f floorCPU) {
	if f.d <= 0 {
		return
	}
	x.baseline = micros(f.d) + " (" + f.name + ")"
	if d > 0 {
		x.ratio = fmt.Sprintf("%.1f×", float64(d)/float64(f.d))
	}
}

// platformRows are P7, sluice's processes on an outside nats-server, and that server's CPU, at
// the rate the run reached rather than at 10 k events/s.
func platformRows(p *platformCPU, floor floorCPU) []row {
	x := row{metric: fmt.Sprintf("P7 platform CPU per event: sluice's own processes (`serve` %s; not NATS, not the instances) on an outside `nats-server -js`, over the async Python no-op run",
		strings.Join(platformRoles, ", ")), sluice: "n/a", baseline: "—", ratio: "n/a", target: "≤ " + micros(platformTarget)}
	server := row{metric: "nats-server CPU per event, same run (the bus, not counted in P7)", sluice: "n/a", baseline: "—", ratio: "n/a", target: "—"}
	if p == nil {
		return []row{x, server}
	}
	x.metric += ", at " + rate(p.async.perSecond())
	if d := p.perEvent(p.sluice()); d > 0 {
		x.sluice = micros(d)
		x.target += verdict(d <= platformTarget)
		againstFloor(&x, d, floor)
	}
	if d := p.perEvent(p.nats); d > 0 {
		server.sluice = micros(d)
	}
	return []row{x, server}
}

// embeddedCPURow is the all-in-one process's CPU per event, the bus's work included.
func embeddedCPURow(perEvent time.Duration, s throughput, floor floorCPU) row {
	x := row{metric: fmt.Sprintf("platform CPU per event, all in one: the `sluice up` process (gateway, worker, scaler, adapters and the embedded NATS server together; not the instances) over the async Python no-op run, at %s", rate(s.perSecond())),
		sluice: "n/a", baseline: "—", ratio: "n/a", target: "—"}
	if perEvent > 0 {
		x.sluice = micros(perEvent)
		againstFloor(&x, perEvent, floor)
	}
	return x
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func verdict(met bool) string {
	if met {
		return " ✓"
	}
	return " ✗"
}

func dur(r sample, q float64) string {
	if !r.ok() {
		return "n/a"
	}
	d := r.quantile(q)
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func rate(v float64) string {
	if v <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f/s", v)
}
