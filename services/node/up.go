package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"sluice.dev/adapters/broker"
	"sluice.dev/adapters/cron"
	"sluice.dev/adapters/manager"
	"sluice.dev/adapters/publish"
	"sluice.dev/adapters/queue"
	"sluice.dev/adapters/route"
	"sluice.dev/adapters/s3conf"
	"sluice.dev/adapters/storage"
	"sluice.dev/adapters/trigger"
	"sluice.dev/events"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/sandbox"
	"sluice.dev/services/access"
	"sluice.dev/services/api"
	"sluice.dev/services/archive"
	"sluice.dev/services/bus"
	"sluice.dev/services/codeurl"
	"sluice.dev/services/console"
	"sluice.dev/services/directory"
	"sluice.dev/services/gateway"
	"sluice.dev/services/httpjson"
	"sluice.dev/services/keys"
	"sluice.dev/services/lambdaapi"
	"sluice.dev/services/metrics"
	"sluice.dev/services/registry"
	"sluice.dev/services/scaler"
	"sluice.dev/services/telemetry"
	"sluice.dev/services/worker"
)

// Up runs an all-in-one node until ctx is cancelled, then stops in order.
func Up(ctx context.Context, o UpOptions) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.DataDir == "" {
		return errors.New("up: no data directory")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	secrets, err := bus.LoadSecrets(o.DataDir)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("up: listen on %s: %w", o.Listen, err)
	}
	roles := []string{"gateway", "api", "adapters"}
	if !o.NoScaler {
		roles = append(roles, "scaler")
	}
	if !o.NoWorker {
		roles = append(roles, "worker")
	}
	// /healthz answers from here on, 503 with the reason until the node serves.
	fr := startFront(ln, roles, o.Logger)
	defer stopFront(fr, o.Logger)

	size, err := sizeStore(ctx, o, fr)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for room
		}
		return fmt.Errorf("up: %w", err)
	}
	busOpts := o.Observe.busOptions(events.BusOptions{Store: size.Max})
	if err := busOpts.CheckStore(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	// Streams of an earlier start may reserve more than this start's store (a smaller disk, an
	// older sluice): the server is given room for them this once, and the bus brings them down
	// to their shares.
	embedded, err := bus.StartEmbedded(bus.EmbeddedOptions{DataDir: o.DataDir, MaxStore: max(size.Max, size.Reserved), Logger: o.Logger}, &secrets)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer embedded.Shutdown()

	return run(ctx, runOptions{
		natsURL: embedded.URL(), token: secrets.Token, dataDir: o.DataDir, listener: ln, front: fr,
		roles: roles, logger: o.Logger, ready: o.Ready, connect: []nats.Option{embedded.InProcess()},
		isolation: o.Isolation, network: o.Network, allowHost: o.AllowHost, s3: o.S3, memoryBudgetMB: o.MemoryBudgetMB,
		prestart: o.Prestart, bus: busOpts, observe: o.Observe, maxWaiting: o.MaxWaiting, storeMax: size.Max,
	})
}

// storeRetry is how often a node without room for its store looks again.
const storeRetry = 5 * time.Second

// sizeStore sizes the node's store (bus.SizeStore): while the data folder has no room for the
// smallest store, the node says so at /healthz and looks again every storeRetry until ctx ends.
// A --store-max under the minimum fails at once.
func sizeStore(ctx context.Context, o UpOptions, fr *front) (bus.StoreSize, error) {
	log := o.Logger
	for {
		size, err := bus.SizeStore(o.DataDir, o.StoreMax)
		switch {
		case err == nil:
			log.Info("store sized", "max", events.FormatSize(size.Max), "free", events.FormatSize(size.Free),
				"in_store", events.FormatSize(size.InStore), "given", size.Given, "rule", fmt.Sprintf("1/%d of the free space, the store's files counted as free", bus.StoreFraction))
			if size.Given && size.Max > size.Free+size.InStore {
				log.Warn("--store-max is more than the data folder's filesystem has free: should the disk fill, JetStream stops", "store_max", events.FormatSize(size.Max), "free", events.FormatSize(size.Free))
			}
			if size.Reserved > size.Max {
				log.Info("the store's streams reserve more than this start's store; they are brought down to their shares", "reserved", events.FormatSize(size.Reserved))
			}
			return size, nil
		case size.Given || !errors.Is(err, bus.ErrStoreTooSmall):
			return size, err
		}
		fr.starting(err.Error())
		log.Warn("no room for the store; looking again", "err", err, "retry_in", storeRetry)
		select {
		case <-ctx.Done():
			return size, ctx.Err()
		case <-time.After(storeRetry):
		}
	}
}

// stopFront stops the listener on the way out, if the node's orderly stop did not already.
func stopFront(fr *front, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := fr.stop(ctx); err != nil {
		log.Warn("http", "err", err)
	}
}

// Serve runs one role against an existing bus until ctx is cancelled.
func Serve(ctx context.Context, o ServeOptions) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NATSURL == "" {
		return errors.New("serve: no bus: pass --nats URL (sluice up prints SLUICE_NATS_URL)")
	}
	auth, err := o.NATSAuth.Options()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ro := runOptions{natsURL: o.NATSURL, token: o.Token, dataDir: o.DataDir, logger: o.Logger, ready: o.Ready,
		isolation: o.Isolation, network: o.Network, allowHost: o.AllowHost, s3: o.S3, memoryBudgetMB: o.MemoryBudgetMB,
		prestart: o.Prestart, connect: auth, bus: events.BusOptions{Replicas: o.Replicas, Store: o.StoreMax}, maxWaiting: o.MaxWaiting}
	switch o.Role {
	case "gateway":
		if o.Token == "" {
			return errors.New("serve gateway: no API token: pass --token or set SLUICE_TOKEN")
		}
		if o.Listen == "" {
			o.Listen = DefaultListen
		}
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return fmt.Errorf("serve gateway: listen on %s: %w", o.Listen, err)
		}
		ro.listener, ro.roles = ln, []string{"gateway", "api"}
	case "worker", "scaler", "adapters":
		ro.roles = []string{o.Role}
	default:
		return fmt.Errorf("serve: unknown role %q: use gateway, worker, scaler or adapters", o.Role)
	}
	ro.bus, ro.observe = o.Observe.busOptions(ro.bus), o.Observe
	if err := ro.bus.CheckStore(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if o.Observe.Metrics != "" {
		ln, err := net.Listen("tcp", o.Observe.Metrics)
		if err != nil {
			if ro.listener != nil {
				ro.listener.Close()
			}
			return fmt.Errorf("serve %s: metrics: listen on %s: %w", o.Role, o.Observe.Metrics, err)
		}
		ro.metricsListener = ln
	}
	if ro.dataDir == "" {
		d, err := os.MkdirTemp("", "sluice-"+o.Role+"-")
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer os.RemoveAll(d)
		ro.dataDir = d
	}
	return run(ctx, ro)
}

type runOptions struct {
	natsURL, token, dataDir string
	listener                net.Listener // nil: no HTTP
	front                   *front       // already serving listener; nil: run starts it
	metricsListener         net.Listener // nil: /metrics only on listener, if any
	observe                 Observe
	roles                   []string
	logger                  *slog.Logger
	ready                   func(Endpoints)
	connect                 []nats.Option     // extra bus connection options
	bus                     events.BusOptions // sizes of the bus: replicas
	isolation, network      string            // the worker's sandbox settings
	allowHost               []string
	memoryBudgetMB          int            // the worker's memory budget; 0: its default
	prestart                map[string]int // pre-started processes per runtime over the worker's defaults; nil: the defaults
	s3                      s3conf.Config  // object storage for code URLs (API role) and storage triggers
	maxWaiting              int            // the gateway's synchronous calls let wait per function; 0: its default
	storeMax                int64          // the embedded store's size, for /healthz; 0: not known here
}

func (o runOptions) has(role string) bool {
	for _, r := range o.roles {
		if r == role {
			return true
		}
	}
	return false
}

// run wires the roles on one bus connection and stops them in order when ctx ends.
func run(ctx context.Context, o runOptions) (err error) {
	log := o.logger
	if o.listener != nil && o.front == nil {
		o.front = startFront(o.listener, o.roles, log)
		defer stopFront(o.front, log)
	}
	report := func(err error) {
		if o.front != nil {
			o.front.starting(err.Error())
		}
	}
	if o.front != nil {
		o.front.starting("connecting to the bus")
	}
	conn, err := bus.ConnectReporting(ctx, o.natsURL, "sluice-"+o.roles[0], o.bus, log, report, o.connect...)
	if err != nil {
		if o.metricsListener != nil {
			o.metricsListener.Close()
		}
		return err
	}
	defer conn.Close()
	if o.front != nil {
		o.front.starting("bus connected; starting the roles")
	}
	fns, err := directory.Open(ctx, conn.JS, log)
	if err != nil {
		return err
	}
	defer fns.Close()
	// One sandbox confines the worker's instances and the API's deploy-time builds.
	var sb *sandbox.Sandbox
	if o.has("worker") || o.listener != nil {
		if sb, err = newSandbox(ctx, o.isolation, o.network, o.allowHost, log); err != nil {
			return err
		}
		defer sb.Close() // after the worker has stopped every instance
	}
	catOpts := catalog.Options{CacheDir: filepath.Join(o.dataDir, "cache")}
	if sb != nil {
		catOpts.Runner = sb
	}
	rts := catalog.New(catOpts)
	defer rts.Close()
	limits := archive.Limits{}
	triggersKV, err := conn.JS.KeyValue(ctx, events.BucketTriggers)
	if err != nil {
		return fmt.Errorf("triggers: %w", err)
	}
	factories := triggerFactories(triggersKV, o.s3)
	host, _ := os.Hostname()
	processID := fmt.Sprintf("%s-%d", host, os.Getpid())

	tel := telemetry.NewPublisher(conn.NC, 65536, log)
	workerID := ""
	if o.has("worker") {
		workerID = processID
	}
	promReg, err := newRegistry(ctx, conn.JS, tel, o.listener != nil || o.has("scaler"), workerID, log)
	if err != nil {
		return err
	}
	telCtx, stopTel := context.WithCancel(context.WithoutCancel(ctx))
	telDone := make(chan error, 1)
	go func() { telDone <- tel.Run(telCtx) }()
	defer func() { stopTel(); <-telDone }()

	var (
		wk        *worker.Worker
		isolation any = "no worker role"
	)
	if o.has("worker") {
		isolation = sb.Report()
		wk, err = worker.New(ctx, worker.Options{
			ID: processID, NC: conn.NC, JS: conn.JS, Fns: fns, Runtimes: rts,
			Telemetry: tel, CodeDir: filepath.Join(o.dataDir, "code"), Limits: limits, Logger: log, Sandbox: sb,
			MemoryBudgetMB: o.memoryBudgetMB, Prestart: prestartSizes(rts, o.prestart),
		})
		if err != nil {
			return err
		}
		if err := metrics.Duplicates(promReg, wk.Duplicates); err != nil {
			return err
		}
	}

	var root *mux.Router
	ep := Endpoints{Token: o.token, NATSURL: o.natsURL}
	if o.listener != nil {
		var regOpts []registry.Option
		if o.s3.Endpoint != "" {
			store, err := codeurl.New(o.s3)
			if err != nil {
				return fmt.Errorf("object storage: %w", err)
			}
			regOpts = append(regOpts, registry.WithFetcher(store))
			log.Info("code URLs fetched from object storage", "endpoint", store.Endpoint())
		}
		reg, err := registry.New(conn.JS, rts, limits, regOpts...)
		if err != nil {
			return err
		}
		keyStore, err := keys.Open(ctx, conn.JS, o.token)
		if err != nil {
			return err
		}
		guard := access.New(o.token, keyStore)
		gwo := gateway.Options{NC: conn.NC, JS: conn.JS, Fns: fns, Token: o.token, Guard: guard, Logger: log, MaxWaiting: o.maxWaiting}
		if wk != nil { // a worker in this process: calls try its warm instances before the bus
			gwo.Local = wk
		}
		gw, err := gateway.New(ctx, gwo)
		if err != nil {
			return err
		}
		defer gw.Close()
		root = mux.NewRouter()
		root.HandleFunc("/healthz", health(o.roles, conn, isolation, o.storeMax)).Methods(http.MethodGet)
		root.Handle("/metrics", guard.Require(keys.Administer, access.DenyJSON, promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))).Methods(http.MethodGet)
		// Routes register full /v1/... paths; this subrouter only adds the caller's check: the
		// token, or an access key whose scope the route allows.
		v1 := root.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
			return strings.HasPrefix(r.URL.Path, "/v1/")
		}).Subrouter()
		v1.Use(guard.Protect("", access.Merge(api.Access(), gateway.Access()), access.DenyJSON))
		gw.Routes(v1, root)
		// Lambda's REST API, for the AWS CLI and SDKs: signed requests, or bearer tokens.
		lambda := root.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
			return lambdaapi.Served(r.URL.Path)
		}).Subrouter()
		lambda.Use(guard.Protect("lambda", lambdaapi.Access(), lambdaapi.Deny))
		lambdaapi.New(reg, gw, fns, log).Routes(lambda)
		a := api.New(reg, conn.JS, fns, log)
		a.Routes(v1)
		a.TriggerRoutes(v1, factories)
		a.KeyRoutes(v1, keyStore)
		a.ObserveRoutes(v1, o.observe.prices())
		con, err := console.New()
		if err != nil {
			return err
		}
		root.Handle("/", con).Methods(http.MethodGet, http.MethodHead)
		root.PathPrefix(console.AssetPrefix).Handler(con).Methods(http.MethodGet, http.MethodHead)
		root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpjson.Error(w, http.StatusNotFound, httpjson.CodeNotFound, "no route %s %s", r.Method, r.URL.Path)
		})
		ep.URL = "http://" + o.listener.Addr().String()
	}

	// Ready runs before the node's router answers (/healthz says 503 until then), so whatever it
	// writes, such as the client config file, exists once /healthz answers 200.
	if o.ready != nil {
		o.ready(ep)
	}
	if root != nil {
		o.front.serve(root)
	}
	log.Info("sluice serving", "roles", o.roles, "url", ep.URL)
	g, gctx := errgroup.WithContext(ctx)
	if o.has("scaler") {
		sc, err := scaler.New(ctx, scaler.Options{JS: conn.JS, Fns: fns, ID: processID, Every: time.Second, Logger: log})
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped before the scaler began
			}
			return err
		}
		g.Go(func() error { return sc.Run(gctx) })
	}
	if o.has("adapters") {
		m := manager.New(triggersKV, publish.New(conn.JS), factories, manager.Options{Owner: processID, Logger: log})
		g.Go(func() error { return m.Run(gctx) })
	}
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorker()
	if wk != nil {
		g.Go(func() error { return wk.Run(workerCtx) })
	}
	if o.front != nil {
		g.Go(func() error {
			select {
			case err := <-o.front.done:
				if err != nil {
					return fmt.Errorf("http: %w", err)
				}
				return nil
			case <-gctx.Done():
				return nil
			}
		})
	}
	var metricsSrv *http.Server
	if o.metricsListener != nil {
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
		mm.HandleFunc("GET /healthz", health(o.roles, conn, isolation, o.storeMax))
		metricsSrv = newHTTPServer(mm, log)
		log.Info("metrics serving", "url", "http://"+o.metricsListener.Addr().String()+"/metrics")
		g.Go(func() error {
			if err := metricsSrv.Serve(o.metricsListener); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics http: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		if o.front != nil {
			sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			if err := o.front.stop(sctx); err != nil {
				log.Warn("http", "err", err)
			}
		}
		if metricsSrv != nil {
			_ = metricsSrv.Close()
		}
		stopWorker()
		return nil
	})
	return g.Wait()
}

// newRegistry makes the process's Prometheus registry: invocation metrics fed from the meter
// records the worker hands the telemetry publisher, the publisher's dropped count, with scale
// the scaler's decisions from sluice_scale, and with a workerID that worker's heartbeat.
func newRegistry(ctx context.Context, js jetstream.JetStream, tel *telemetry.Publisher, scale bool, workerID string, log *slog.Logger) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	met, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	tel.OnMeter(met.Meter)
	if err := metrics.Dropped(reg, tel.Dropped); err != nil {
		return nil, err
	}
	if scale {
		kv, err := js.KeyValue(ctx, events.BucketScale)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if err := reg.Register(metrics.NewScaleCollector(kv, log)); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	if workerID != "" {
		kv, err := js.KeyValue(ctx, events.BucketWorkers)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if err := reg.Register(metrics.NewWorkerCollector(kv, workerID, log)); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

func health(roles []string, conn *bus.Conn, isolation any, storeMax int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, code := "ok", http.StatusOK
		if !conn.NC.IsConnected() {
			status, code = "bus disconnected", http.StatusServiceUnavailable
		}
		body := map[string]any{"status": status, "roles": roles, "isolation": isolation}
		if storeMax > 0 {
			body["storeMax"] = storeMax
		}
		httpjson.Write(w, code, body)
	}
}

// newSandbox builds the worker's sandbox from the --isolation, --network and --allow-host
// settings. Required refuses to start on a host that cannot isolate; auto says loudly what is
// missing.
func newSandbox(ctx context.Context, isolation, network string, allow []string, log *slog.Logger) (*sandbox.Sandbox, error) {
	mode, err := sandbox.ParseMode(isolation)
	if err != nil {
		return nil, fmt.Errorf("--isolation: %w", err)
	}
	net, err := sandbox.ParseNetwork(network)
	if err != nil {
		return nil, fmt.Errorf("--network: %w", err)
	}
	sb, err := sandbox.New(ctx, sandbox.Options{Mode: mode, Network: net, Allow: allow}, log)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return sb, nil
}

// triggerFactories are the trigger kinds this binary runs, by kind: the adapters role runs them
// and the API checks new specs with them. kv is the sluice_triggers bucket (cron remembers its
// last fired times there, storage its watermarks); s3 is the node's object storage, used by
// storage triggers that name no endpoint.
func triggerFactories(kv jetstream.KeyValue, s3 s3conf.Config) map[string]trigger.Factory {
	return map[string]trigger.Factory{
		events.TriggerCron:        cron.Factory(kv),
		events.TriggerQueue:       queue.New,
		events.TriggerHTTP:        route.Factory,  // the gateway serves the routes; this checks and reports them
		events.TriggerCloudEvents: broker.Factory, // the gateway routes what comes in; this checks and reports
		events.TriggerStorage:     storage.NewFactory(storage.Config{State: kv, S3: s3}),
	}
}

// prestartSizes is the worker's pre-started processes per runtime: worker.DefaultPrestart for
// every runtime the catalog can pre-start, with the sizes set given over them; nil (the worker's
// own defaults) when set is nil.
func prestartSizes(rts *catalog.Catalog, set map[string]int) map[string]int {
	if set == nil {
		return nil
	}
	sizes := map[string]int{}
	for _, rt := range rts.IDs() {
		if rts.Specializable(rt, nil) {
			sizes[rt] = worker.DefaultPrestart
		}
	}
	for rt, n := range set {
		sizes[rt] = n
	}
	return sizes
}
