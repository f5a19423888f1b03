package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// noopFunction is the Python no-op every sluice row measures.
const noopFunction = "def handler(e, c):\n    return None\n"

// throughput is a fixed number of events pushed through a pipeline, timed until the last one
// came out.
type throughput struct {
	n, done  int
	elapsed  time.Duration
	accepted time.Duration // async only: until the last 202
	cold     int           // async only: attempts metered as cold starts
	err      error
}

func (t throughput) perSecond() float64 {
	if t.elapsed <= 0 || t.err != nil {
		return 0
	}
	return float64(t.done) / t.elapsed.Seconds()
}

// results hold every row of one bench run.
type results struct {
	natsRR         sample
	httpC1, httpCN sample
	httpCPU        time.Duration // the bare net/http server's own CPU per request over its c>1 run
	natsCPU        time.Duration // the core NATS responder's own CPU per request over its c>1 run
	v1C1, v1CN     sample
	fnC1           sample
	rie            sample // the same no-op under AWS Lambda RIE, c=1
	goFnC1, goRIE  sample // the Go no-op through its function URL and the same binary under RIE, c=1
	jsPass, async  throughput
	asyncGo        throughput            // the Go no-op
	cpuPerEvent    time.Duration         // the sluice up process's (embedded NATS included) CPU time over the async run, per event
	platform       *platformCPU          // P7 on an outside nats-server; nil when not measured
	cold           map[string]coldResult // by runtime
	scale          *scaleResult          // nil when not measured
	cluster        *clusterResult        // nil when not measured
	quietWaits     []time.Duration       // how long each phase waited for a quiet machine (results.quiet)
	busyPhases     map[string]bool       // phases that began on a busy machine, said in the notes
	quietAt        float64               // how busy a quiet machine may be (results.calibrateQuiet)
	notes          []string
}

func (r *results) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func measureAll(ctx context.Context, c config, self string) (*results, error) {
	r := &results{}
	r.calibrateQuiet(ctx)
	// The Go no-op is built before anything is measured, so its compile is in no run.
	goDir, err := os.MkdirTemp("", "sluice-bench-go-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(goDir)
	fmt.Fprintln(os.Stderr, "bench: building the Go no-op")
	goPkg, goErr := buildGoNoop(ctx, goDir)
	if goErr != nil {
		r.note("Go no-op: %v", goErr)
	}
	fmt.Fprintln(os.Stderr, "bench: starting sluice up")
	n, err := startNode(ctx, c.sluice, c.keep)
	if err != nil {
		return nil, err
	}
	defer n.stop()
	deployErr := func() error {
		_, err := n.sluice(ctx, "deploy", "noop", "--runtime", "python", "--handler", "main.handler", "--inline", noopFunction, "--max", "2")
		return err
	}()
	if deployErr != nil {
		r.note("deploy of the no-op function failed: %v", deployErr)
	}

	nc, err := nats.Connect(n.NATSURL, nats.Name("sluice-bench"))
	if err != nil {
		return nil, fmt.Errorf("connect to the node's NATS: %w", err)
	}
	defer nc.Close()

	fmt.Fprintln(os.Stderr, "bench: core NATS request/reply")
	r.natsRR, r.natsCPU, err = measureNATS(ctx, c, self, n.NATSURL, nc, r)
	if err != nil {
		r.note("NATS request/reply: %v", err)
	}
	fmt.Fprintln(os.Stderr, "bench: bare net/http")
	r.httpC1, r.httpCN, r.httpCPU, err = measureBareHTTP(ctx, c, self, r)
	if err != nil {
		r.note("bare net/http: %v", err)
	}
	fmt.Fprintln(os.Stderr, "bench: JetStream pass-through")
	r.quiet(ctx, "JetStream pass-through")
	r.jsPass = measureJetStream(ctx, c, self, n.NATSURL, nc, 1)
	if r.jsPass.err != nil {
		r.note("JetStream pass-through: %v", r.jsPass.err)
	}
	if deployErr == nil {
		fmt.Fprintln(os.Stderr, "bench: sluice sync invoke")
		measureSync(ctx, c, n, r)
		if c.rie != "" {
			fmt.Fprintln(os.Stderr, "bench: the same no-op under AWS Lambda RIE")
			if r.rie, err = pythonUnderRIE(ctx, c, r); err != nil {
				r.note("AWS Lambda RIE: %v (install it with go tool task rie)", err)
			}
		}
		fmt.Fprintln(os.Stderr, "bench: sluice async end to end")
		r.quiet(ctx, "sluice async")
		cpuBefore, cpuErr := cpuTime(n.cmd.Process.Pid)
		r.async = measureAsync(ctx, c, n, nc)
		if cpuAfter, err := cpuTime(n.cmd.Process.Pid); cpuErr == nil && err == nil && r.async.done > 0 {
			r.cpuPerEvent = (cpuAfter - cpuBefore) / time.Duration(r.async.done)
		}
		if r.async.err != nil {
			r.note("sluice async: %v", r.async.err)
		}
		if goErr == nil {
			goErr = deployGoNoop(ctx, n, goPkg)
			if goErr != nil {
				r.note("%v", goErr)
			}
		}
		if goErr == nil {
			fmt.Fprintln(os.Stderr, "bench: sluice async end to end, Go no-op")
			r.quiet(ctx, "sluice async, Go no-op")
			if r.asyncGo = measureAsyncGo(ctx, c, n, nc); r.asyncGo.err != nil {
				r.note("sluice async, Go no-op: %v", r.asyncGo.err)
			}
			fmt.Fprintln(os.Stderr, "bench: sluice sync invoke, Go no-op")
			if r.goFnC1, err = measureSyncGo(ctx, c, n, r); err != nil {
				r.note("sluice sync /fn/%s c=1: %v", goNoopName, err)
			}
			if c.rie != "" {
				fmt.Fprintln(os.Stderr, "bench: the same Go no-op binary under AWS Lambda RIE")
				if r.goRIE, err = goNoopUnderRIE(ctx, c, goPkg, r); err != nil {
					r.note("AWS Lambda RIE, Go no-op: %v (install it with go tool task rie)", err)
				}
			}
		}
	}
	fmt.Fprintln(os.Stderr, "bench: cold invocations")
	measureCold(ctx, c, n, r)
	n.stop() // the runs below start processes of their own
	if c.natsServer != "" {
		fmt.Fprintln(os.Stderr, "bench: P7, sluice's processes on an outside nats-server")
		r.platform = measurePlatformCPU(ctx, c, r)
	} else {
		r.note("P7 not measured: it runs sluice's processes on a nats-server of their own (-nats-server)")
	}
	if c.scaleN > 0 {
		fmt.Fprintln(os.Stderr, "bench: scaling, with worker processes of their own")
		s := measureScale(ctx, c)
		if s.err != nil {
			r.note("scaling: %v", s.err)
		}
		if len(s.firstRuns) > 0 {
			r.note("scaling: the burst's instances first ran at %v after its first event was sent", s.firstRuns)
		}
		r.scale = &s
	}
	if c.natsServer != "" && c.cluster {
		fmt.Fprintln(os.Stderr, "bench: sluice on a 3-node NATS cluster")
		r.cluster = measureCluster(ctx, c, self, r)
	}
	return r, nil
}

// measureNATS times core NATS request/reply at c=1, then loads the responder at c.conc and reads
// its process's CPU per request answered: one message read and one written, what each bus
// exchange costs a client at the least.
func measureNATS(ctx context.Context, c config, self, url string, nc *nats.Conn, r *results) (c1 sample, perRequest time.Duration, err error) {
	const subject = "bench.echo"
	ch, _, err := startChild(ctx, self, "responder", "-nats", url, "-subject", subject)
	if err != nil {
		return c1, 0, err
	}
	defer ch.stop()
	do := func(ctx context.Context) error {
		_, err := nc.RequestWithContext(ctx, subject, []byte("{}"))
		return err
	}
	warmUp(ctx, c.warm, do)
	r.quiet(ctx, "core NATS request/reply")
	c1 = load(ctx, c.syncN, 1, c.phaseCap, do)
	r.quiet(ctx, "core NATS request/reply c>1")
	perRequest, err = childCPUPer(ch, func() sample { return load(ctx, c.syncN, c.conc, c.phaseCap, do) })
	return c1, perRequest, err
}

// childCPUPer runs a load and returns the child process's CPU over it per successful request.
func childCPUPer(ch *child, run func() sample) (time.Duration, error) {
	before, err := cpuTime(ch.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	s := run()
	if !s.ok() {
		return 0, fmt.Errorf("no request succeeded: %v", s.firstErr)
	}
	after, err := cpuTime(ch.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return (after - before) / time.Duration(len(s.lat)), nil
}

// poster sends one POST and checks the answer; a keep-alive client shared by all goroutines.
func poster(client *http.Client, url string, check func(*http.Response) error, header ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte("{}")))
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		return check(resp)
	}
}

func status200(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func newClient(conc int) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute},
	}
}

// measureBareHTTP loads the bare net/http server at c=1 and at c.conc, and reads the server
// process's CPU per request over the c.conc run.
func measureBareHTTP(ctx context.Context, c config, self string, r *results) (c1, cn sample, perRequest time.Duration, err error) {
	ch, addr, err := startChild(ctx, self, "http")
	if err != nil {
		return c1, cn, 0, err
	}
	defer ch.stop()
	client := newClient(c.conc)
	defer client.CloseIdleConnections()
	do := poster(client, "http://"+addr+"/", status200)
	warmUp(ctx, c.warm, do)
	r.quiet(ctx, "bare net/http")
	c1 = load(ctx, c.syncN, 1, c.phaseCap, do)
	r.quiet(ctx, "bare net/http c>1")
	perRequest, err = childCPUPer(ch, func() sample {
		cn = load(ctx, c.syncN, c.conc, c.phaseCap, do)
		return cn
	})
	return c1, cn, perRequest, err
}

func measureSync(ctx context.Context, c config, n *node, r *results) {
	client := newClient(c.conc)
	defer client.CloseIdleConnections()
	okOutcome := func(resp *http.Response) error {
		if err := status200(resp); err != nil {
			return err
		}
		if o := resp.Header.Get("X-Sluice-Outcome"); o != string(events.OutcomeOK) {
			return fmt.Errorf("outcome %q", o)
		}
		return nil
	}
	auth := []string{"Authorization", "Bearer " + n.Token}
	api := poster(client, n.URL+"/v1/functions/noop/invocations", okOutcome, auth...)
	fn := poster(client, n.URL+"/fn/noop", status200, auth...)
	warmUp(ctx, c.warm, api) // the first invocations start the instance
	r.quiet(ctx, "sluice sync /v1")
	r.v1C1 = load(ctx, c.syncN, 1, c.phaseCap, api)
	warmUp(ctx, c.warm, fn)
	r.quiet(ctx, "sluice sync /fn")
	r.fnC1 = load(ctx, c.syncN, 1, c.phaseCap, fn)
	_ = load(ctx, c.warm, c.conc, c.phaseCap, api) // warm-up at concurrency: brings up the second instance
	r.quiet(ctx, "sluice sync /v1 c>1")
	r.v1CN = load(ctx, c.syncN, c.conc, c.phaseCap, api)
	for name, l := range map[string]sample{"/v1 c=1": r.v1C1, "/fn c=1": r.fnC1, fmt.Sprintf("/v1 c=%d", c.conc): r.v1CN} {
		if l.errs > 0 {
			r.note("sluice sync %s: %d of %d requests failed, first: %v", name, l.errs, l.errs+len(l.lat), l.firstErr)
		}
	}
}

func measureJetStream(ctx context.Context, c config, self, url string, nc *nats.Conn, replicas int) throughput {
	const stream, subject = "BENCH_PASS", "bench.pass"
	t := throughput{n: c.streamN}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.err = err
		return t
	}
	// The same shape as the invocation stream: work queue, file storage.
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Replicas: replicas,
	}); err != nil {
		t.err = fmt.Errorf("create stream: %w", err)
		return t
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), stream) }()
	ch, _, err := startChild(ctx, self, "consumer", "-nats", url, "-stream", stream, "-count", strconv.Itoa(c.streamN))
	if err != nil {
		t.err = err
		return t
	}
	defer ch.stop()
	start := time.Now()
	for i := 0; i < c.streamN; {
		if _, err := js.PublishAsync(subject, []byte(`{"n":`+strconv.Itoa(i)+`}`)); err != nil {
			if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				<-js.PublishAsyncComplete()
				continue
			}
			t.err = fmt.Errorf("publish: %w", err)
			return t
		}
		i++
	}
	if _, err := ch.waitLine("done", c.phaseCap); err != nil {
		t.err = fmt.Errorf("consumer: %w", err)
		return t
	}
	t.elapsed, t.done = time.Since(start), c.streamN
	return t
}

// measureAsync sends asyncN invocations of noop as events and counts their meter records on the
// bus until all of them finished.
func measureAsync(ctx context.Context, c config, n *node, nc *nats.Conn) throughput {
	client := newClient(c.conc * 2)
	defer client.CloseIdleConnections()
	return asyncThrough(ctx, c, n, nc, client, "noop", c.asyncN)
}

// asyncThrough sends count async invocations of fn through the gateway from c.conc*2 clients
// and times them until the meter record of every one of them arrived.
func asyncThrough(ctx context.Context, c config, n *node, nc *nats.Conn, client *http.Client, fn string, count int) throughput {
	t := throughput{n: count}
	meters := make(chan *nats.Msg, 8192)
	sub, err := nc.ChanSubscribe(events.MetersSubject(fn), meters)
	if err != nil {
		t.err = err
		return t
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.err = err
		return t
	}
	ctx, cancel := context.WithTimeout(ctx, c.phaseCap)
	defer cancel()

	ids := make(chan string, count)
	var wg sync.WaitGroup
	var next sync.Mutex
	left := count
	sendErr := make(chan error, c.conc*2)
	start := time.Now()
	for range c.conc * 2 {
		wg.Go(func() {
			for {
				next.Lock()
				if left == 0 {
					next.Unlock()
					return
				}
				left--
				next.Unlock()
				id, err := sendEventTo(ctx, client, n, fn)
				if err != nil {
					sendErr <- err
					return
				}
				ids <- id
			}
		})
	}
	go func() { wg.Wait(); close(ids) }()

	sent, finished := map[string]bool{}, map[string]bool{}
	done, failed := 0, 0
	for done < count {
		select {
		case id, ok := <-ids:
			if !ok {
				ids = nil
				t.accepted = time.Since(start)
				continue
			}
			sent[id] = true
			if finished[id] {
				done++
			}
		case m := <-meters:
			var rec events.Meter
			if err := json.Unmarshal(m.Data, &rec); err != nil || finished[rec.InvocationID] {
				continue
			}
			finished[rec.InvocationID] = true
			if rec.Cold {
				t.cold++
			}
			if rec.Outcome != events.OutcomeOK {
				failed++
			}
			if sent[rec.InvocationID] {
				done++
			}
		case err := <-sendErr:
			cancel()
			wg.Wait()
			t.err = fmt.Errorf("send: %w", err)
			return t
		case <-ctx.Done():
			cancel()
			wg.Wait()
			t.err = fmt.Errorf("%d of %d finished within %s", done, count, c.phaseCap)
			return t
		}
	}
	t.elapsed, t.done = time.Since(start), done
	wg.Wait()
	if failed > 0 {
		t.err = fmt.Errorf("%d invocations did not end ok", failed)
	}
	return t
}

// sendEventTo sends one async invocation of fn and returns its id.
func sendEventTo(ctx context.Context, client *http.Client, n *node, fn string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL+"/v1/functions/"+fn+"/invocations", bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+n.Token)
	req.Header.Set("X-Sluice-Invocation-Type", "Event")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var acc struct {
		InvocationID string `json:"invocationId"`
	}
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("status %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil || acc.InvocationID == "" {
		return "", fmt.Errorf("202 without an invocationId: %v", err)
	}
	return acc.InvocationID, nil
}
