package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/runtimeapi"
)

// Defaults applied when a Config leaves a field zero.
const (
	DefaultMemoryMB    = 128
	DefaultTimeout     = 30 * time.Second
	DefaultInitTimeout = 10 * time.Second
	closeGrace         = time.Second // between SIGTERM and SIGKILL in Close
	drainGrace         = 2 * time.Second
)

// Config describes one instance of a function.
type Config struct {
	ID       string // instance id, unique on the worker
	Function string
	Version  int
	Runtime  string // a catalog runtime id
	Handler  string
	CodeDir  string // the unpacked code package (read-only for the function); the working directory
	MemoryMB int    // DefaultMemoryMB when zero
	Timeout  time.Duration
	// Concurrency is how many invocations the instance runs at once (1 when zero). Above 1 the
	// runtime must serve concurrently (catalog.Concurrent): the process gets
	// AWS_LAMBDA_MAX_CONCURRENCY and tags the lines it prints with their invocation (see
	// package runtimeapi).
	Concurrency int
	Env         map[string]string // the function's own variables; reserved names are refused
	// Logs receives every line the process prints (stdout and stderr), tagged with the invocation
	// in flight. Calls are serialised and lines of one stream arrive in order. It must return
	// quickly (hand the line on): while it runs, the process's writes may block. It must not call
	// the Instance's methods.
	Logs func(Line)
	// InitTimeout bounds Start besides its ctx; DefaultInitTimeout when zero.
	InitTimeout time.Duration
	// Sandbox, when set, confines the process; nil runs it directly (no isolation).
	Sandbox Sandbox
	// Logger receives the instance's lifecycle records; nil discards them.
	Logger *slog.Logger
}

// Sandbox confines an instance's process. Jail prepares the confinement of one process of
// cfg before its command exists (its network among others); the instance then serves its
// Runtime API on the Jail's listener, builds the command, and has the Jail wrap and start it.
type Sandbox interface {
	Jail(ctx context.Context, cfg Config) (Jail, error)
}

// Jail is the confinement of one process:
//   - RuntimeAPI is the listener to serve the process's Runtime API on when the jail gives it
//     a network of its own (the only place it can be reached from); nil when the process
//     shares the worker's network, and the instance listens on the host's loopback;
//   - Wrap receives the command ready to run (interpreter, arguments, environment with
//     AWS_LAMBDA_RUNTIME_API, working directory, its own process group) and may rewrite any
//     of it, for example to run it under bubblewrap; it must keep the process group. It
//     returns the environment the process will see, in the process's own view (paths inside
//     the sandbox);
//   - Start starts the wrapped command (inside the jail's network);
//   - Started is called right after the process started (an error kills it);
//   - Limit when a pre-started process takes on a function's memory setting (the CPU share
//     follows memory), ResetPeak when an invocation begins, Usage after it ends (cheap: read
//     after every invocation), OOMKilled when the process died, and Release once, after the process has exited and its output is
//     drained (or when it never started).
type Jail interface {
	RuntimeAPI() net.Listener
	Wrap(cmd *exec.Cmd) (env []string, err error)
	Start(cmd *exec.Cmd) error
	Started(pid int) error
	Limit(memoryMB int) error
	ResetPeak()
	Usage() Usage
	OOMKilled() bool
	Release()
}

// Usage is what a jail measured of its process.
type Usage struct {
	PeakMemoryBytes uint64 // the most memory used since the last ResetPeak; 0 when unknown
	ForksRefused    uint64 // process creations the pids limit refused, since the jail began
}

// bare is the jail of an unconfined process: it measures nothing.
type bare struct{}

func (bare) RuntimeAPI() net.Listener             { return nil }
func (bare) Wrap(cmd *exec.Cmd) ([]string, error) { return cmd.Env, nil }
func (bare) Start(cmd *exec.Cmd) error            { return cmd.Start() }
func (bare) Started(int) error                    { return nil }
func (bare) Limit(int) error                      { return nil }
func (bare) ResetPeak()                           {}
func (bare) Usage() Usage                         { return Usage{} }
func (bare) OOMKilled() bool                      { return false }
func (bare) Release()                             {}

// Line is one line the process printed.
type Line struct {
	Time      time.Time
	RequestID string // the line's invocation (see Config.Concurrency); "" for none
	Stream    string // "stdout" or "stderr"
	Text      string // without the newline; at most MaxLine bytes
}

// Request is one invocation.
type Request struct {
	ID              string    // the invocation id, any text (escaped on the wire, see runtimeapi.WireID)
	Deadline        time.Time // now + Config.Timeout when zero
	Payload         []byte
	Attributes      map[string]string // CloudEvent attributes for the context (id, type, source, subject, time)
	TraceID         string            // optional Lambda-Runtime-Trace-Id
	ClientContext   string            // optional, as Lambda's client context
	CognitoIdentity string            // optional
}

// Response is a finished invocation. Error is set when the handler failed; the instance stays
// usable.
type Response struct {
	Payload  []byte
	Error    *FunctionError
	Duration time.Duration // from handing the invocation in to its answer (or its end)
}

// Instance is one running function process. Its methods are safe for concurrent use; Invoke
// runs up to Config.Concurrency invocations at once.
type Instance struct {
	cfg  Config
	cat  *catalog.Catalog
	log  atomic.Pointer[slog.Logger]
	api  *runtimeapi.Server
	cmd  *exec.Cmd
	env  []string // the process's environment as it sees it
	pgid int
	out  [2]*output
	tail tail
	jail Jail

	logMu   sync.Mutex // serialises logs; guards it
	logs    func(Line)
	reqID   atomic.Pointer[string] // the invocation in flight when the concurrency is 1
	conc    atomic.Int32           // invocations allowed at once
	busy    atomic.Int32           // invocations in flight
	killed  atomic.Pointer[string] // the invocation whose timeout killed the instance
	closing atomic.Bool
	initDur time.Duration

	prestart    *prestart   // set for a pre-started instance (Prestart)
	specialized atomic.Bool // Specialize has begun

	exited    chan struct{} // closed when the process is reaped; exitErr is set before
	exitErr   error
	done      chan struct{} // closed when the process is reaped, its output drained, everything released
	closeOnce sync.Once
}

// Start launches an instance and returns when its bootstrap first asks for an invocation. If the
// handler cannot be loaded (the bootstrap posts /init/error, or the process ends first), or ctx or
// InitTimeout ends first, Start returns a *Failure wrapping ErrInit and leaves nothing running.
// ctx bounds Start only, not the instance's life.
func Start(ctx context.Context, cat *catalog.Catalog, cfg Config) (*Instance, error) {
	if err := checkConfig(cat, cfg); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.ID, err)
	}
	launch, err := cat.Command(cfg.Runtime, cfg.MemoryMB)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.ID, err)
	}
	if launch.InCode {
		if launch, err = inCode(launch, cfg.CodeDir); err != nil {
			return nil, &Failure{Kind: ErrInit, Err: fmt.Errorf("start %s: %w", cfg.ID, err)}
		}
	}
	jail, err := newJail(ctx, cfg)
	if err != nil {
		return nil, &Failure{Kind: ErrInit, Err: fmt.Errorf("start %s: sandbox: %w", cfg.ID, err)}
	}
	api, err := runtimeapi.New(runtimeapi.Options{Function: cfg.Function, Version: cfg.Version, Concurrency: cfg.Concurrency,
		Listener: jail.RuntimeAPI()})
	if err != nil {
		jail.Release()
		return nil, fmt.Errorf("start %s: %w", cfg.ID, err)
	}
	i := newInstance(cat, cfg, api)
	i.jail = jail
	i.setLogger(cfg.Logger, "function", cfg.Function, "version", cfg.Version, "instance", cfg.ID)
	i.cmd = &exec.Cmd{
		Path:        launch.Path,
		Args:        launch.Args,
		Env:         environ(cfg, launch.Env, api.Addr(), time.Now()),
		Dir:         cfg.CodeDir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	started := time.Now()
	if err := i.launch(ctx); err != nil {
		_ = api.Close()
		return nil, &Failure{Kind: ErrInit, Err: fmt.Errorf("start %s: %w", cfg.ID, err)}
	}
	go i.wait()
	if err := i.await(ctx, api.Ready(), cfg.InitTimeout); err != nil {
		return nil, err
	}
	i.initDur = time.Since(started)
	i.logger().Debug("instance ready", "init", i.initDur)
	return i, nil
}

// newJail prepares the process's jail: the sandbox's, or a bare one without a sandbox.
func newJail(ctx context.Context, cfg Config) (Jail, error) {
	if cfg.Sandbox == nil {
		return bare{}, nil
	}
	return cfg.Sandbox.Jail(ctx, cfg)
}

// inCode points a command naming a file of the function's code (the package's own bootstrap)
// at that file in codeDir, which must be an executable regular file.
func inCode(launch catalog.Command, codeDir string) (catalog.Command, error) {
	path := filepath.Join(codeDir, launch.Path)
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return launch, fmt.Errorf("the function's code has no executable %s at its root: the runtime runs that file (chmod +x it)", launch.Path)
	}
	launch.Path = path
	launch.Args = append([]string{path}, launch.Args[1:]...)
	return launch, nil
}

func newInstance(cat *catalog.Catalog, cfg Config, api *runtimeapi.Server) *Instance {
	i := &Instance{cfg: cfg, cat: cat, logs: cfg.Logs, api: api, exited: make(chan struct{}), done: make(chan struct{})}
	i.conc.Store(int32(max(cfg.Concurrency, 1)))
	return i
}

func (i *Instance) logger() *slog.Logger { return i.log.Load() }

// setLogger derives the instance's logger from l (discarding when nil) with attrs.
func (i *Instance) setLogger(l *slog.Logger, attrs ...any) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	i.log.Store(l.With(attrs...))
}

// await waits until ready is closed. When the bootstrap posts /init/error, the process ends, the
// timeout (DefaultInitTimeout when zero) or ctx passes first, it kills the process, waits until
// the instance is done and returns a *Failure wrapping ErrInit.
func (i *Instance) await(ctx context.Context, ready <-chan struct{}, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultInitTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	fail := func(fe *runtimeapi.FunctionError, cause error) error {
		i.kill()
		<-i.done
		f := &Failure{Kind: ErrInit, Function: convertError(fe), Exit: i.exitStatus(), Stderr: i.tail.get(), Err: cause}
		i.logger().Warn("instance init failed", "err", f)
		return f
	}
	select {
	case <-ready:
		return nil
	case fe := <-i.api.InitError():
		return fail(fe, nil)
	case <-i.exited:
		select {
		case fe := <-i.api.InitError():
			return fail(fe, nil)
		default:
			return fail(nil, errors.New("the process ended before it was ready"))
		}
	case <-timer.C:
		return fail(nil, fmt.Errorf("not ready within %s", timeout))
	case <-ctx.Done():
		return fail(nil, ctx.Err())
	}
}

func checkConfig(cat *catalog.Catalog, cfg Config) error {
	if cfg.ID == "" || cfg.Function == "" {
		return fmt.Errorf("%w: ID and Function are required", ErrConfig)
	}
	if err := cat.Validate(cfg.Runtime, cfg.Handler); err != nil {
		return err
	}
	if cfg.Concurrency > 1 && !cat.Concurrent(cfg.Runtime) {
		return fmt.Errorf("%w: runtime %s serves one invocation at a time: concurrency above 1 needs one of %v",
			ErrConfig, cfg.Runtime, cat.ConcurrentRuntimes())
	}
	fi, err := os.Stat(cfg.CodeDir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: code folder %q is not a folder", ErrConfig, cfg.CodeDir)
	}
	return checkEnv(cfg.Env)
}

// launch starts the process with its output on two pipes and the reading goroutines running.
func (i *Instance) launch(ctx context.Context) (err error) {
	var files []*os.File // every pipe end, closed on failure
	defer func() {
		if err != nil {
			for _, f := range files {
				_ = f.Close()
			}
		}
	}()
	var writers [2]*os.File
	for n, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("pipe: %w", err)
		}
		files = append(files, r, w)
		writers[n] = w
		if i.out[n], err = newOutput(i, stream, r); err != nil {
			return fmt.Errorf("pipe: %w", err)
		}
	}
	i.cmd.Stdout, i.cmd.Stderr = writers[0], writers[1]
	if i.env, err = i.jail.Wrap(i.cmd); err != nil {
		i.jail.Release()
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := i.jail.Start(i.cmd); err != nil {
		i.jail.Release()
		return fmt.Errorf("exec %s: %w", i.cmd.Path, err)
	}
	i.pgid = i.cmd.Process.Pid
	_ = writers[0].Close()
	_ = writers[1].Close()
	if err := i.jail.Started(i.pgid); err != nil {
		_ = syscall.Kill(-i.pgid, syscall.SIGKILL)
		_ = i.cmd.Wait()
		i.jail.Release()
		for _, o := range i.out {
			_ = o.f.Close()
		}
		return fmt.Errorf("sandbox: %w", err)
	}
	for _, o := range i.out {
		go o.run()
	}
	return nil
}

// wait reaps the process, ends whatever it left in its group, drains its output and releases
// everything, then closes done.
func (i *Instance) wait() {
	err := i.cmd.Wait()
	i.exitErr = err
	close(i.exited)
	_ = syscall.Kill(-i.pgid, syscall.SIGKILL) // what it forked dies with it
	_ = i.api.Close()
	timer := time.NewTimer(drainGrace)
	defer timer.Stop()
	for _, o := range i.out {
		select {
		case <-o.finished:
		case <-timer.C:
			// Something outside the group still holds the pipes: stop reading.
			for _, o := range i.out {
				_ = o.f.Close()
			}
			<-o.finished
		}
	}
	i.jail.Release()
	if i.prestart != nil {
		if err := os.RemoveAll(i.prestart.slot); err != nil {
			i.logger().Warn("remove the code slot", "err", err)
		}
	}
	if i.closing.Load() {
		i.logger().Debug("instance closed", "exit", i.exitStatus())
	} else {
		i.logger().Info("instance exited", "exit", i.exitStatus(), "err", err)
	}
	close(i.done)
}

// exitStatus describes how the process ended; "" while it runs.
func (i *Instance) exitStatus() string {
	select {
	case <-i.exited:
	default:
		return ""
	}
	if i.exitErr == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(i.exitErr, &ee) {
		return ee.String()
	}
	return i.exitErr.Error()
}

// kill ends the whole process group at once.
func (i *Instance) kill() {
	select {
	case <-i.exited:
	default:
		_ = syscall.Kill(-i.pgid, syscall.SIGKILL)
	}
}

// Invoke runs one invocation and returns the handler's answer. A handler error is a Response
// with Error set, and the instance stays usable. When req.Deadline or ctx passes first, the
// whole process group is killed and the error wraps ErrTimeout; when the process dies on its
// own, ErrCrashed (with its exit status and last stderr lines); after Close, ErrClosed; while
// Config.Concurrency other Invokes run, ErrBusy. After a timeout or crash the instance is
// finished, and the other invocations it was running fail with ErrCrashed.
func (i *Instance) Invoke(ctx context.Context, req Request) (Response, error) {
	if req.ID == "" {
		return Response{}, fmt.Errorf("%w: a request needs an id", ErrConfig)
	}
	if i.prestart != nil && !i.specialized.Load() {
		return Response{}, fmt.Errorf("%w: a pre-started instance takes invocations once specialised", ErrConfig)
	}
	for {
		n := i.busy.Load()
		if n >= i.conc.Load() {
			return Response{}, ErrBusy
		}
		if i.busy.CompareAndSwap(n, n+1) {
			break
		}
	}
	defer i.busy.Add(-1)
	sole := i.conc.Load() == 1 // lines are tagged by the one invocation in flight
	select {
	case <-i.exited:
		<-i.done
		return Response{}, i.deadError()
	default:
	}
	deadline := req.Deadline
	if deadline.IsZero() {
		timeout := i.cfg.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		deadline = time.Now().Add(timeout)
	}
	ictx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	id := req.ID
	if sole {
		i.reqID.Store(&id)
	}
	start := time.Now()
	r, err := i.api.Invoke(ictx, &runtimeapi.Invocation{
		ID: req.ID, Deadline: deadline, Payload: req.Payload, Attributes: req.Attributes,
		TraceID: req.TraceID, ClientContext: req.ClientContext, CognitoIdentity: req.CognitoIdentity,
	})
	resp := Response{Duration: time.Since(start)}
	if err == nil {
		i.out[0].drain()
		i.out[1].drain()
		if sole {
			i.reqID.Store(nil)
		}
		resp.Payload, resp.Error = r.Payload, convertError(r.Error)
		return resp, nil
	}
	if sole {
		defer i.reqID.Store(nil)
	}
	if errors.Is(err, runtimeapi.ErrClosed) {
		<-i.done
		return resp, i.deadError()
	}
	if ictx.Err() != nil {
		i.killed.CompareAndSwap(nil, &id)
		i.kill()
		<-i.done
		cause := ctx.Err() // the caller's own cancellation, when that was first
		if cause == nil {
			cause = fmt.Errorf("deadline %s passed", deadline.Format(time.RFC3339Nano))
		}
		i.logger().Info("invocation timed out; instance killed", "invocation", req.ID, "duration", resp.Duration)
		return resp, &Failure{Kind: ErrTimeout, Exit: i.exitStatus(), Stderr: i.tail.get(), Err: cause}
	}
	return resp, fmt.Errorf("invoke %s: %w", req.ID, err)
}

// deadError is the error for an instance whose process has ended.
func (i *Instance) deadError() error {
	if i.closing.Load() {
		return ErrClosed
	}
	kind := ErrCrashed
	if i.jail.OOMKilled() {
		kind = ErrOOM
	}
	var cause error
	if id := i.killed.Load(); id != nil {
		cause = fmt.Errorf("invocation %s, running on the same instance, timed out and the instance was killed", *id)
	}
	return &Failure{Kind: kind, Exit: i.exitStatus(), Stderr: i.tail.get(), Err: cause}
}

// Running is how many invocations the instance is running.
func (i *Instance) Running() int { return int(i.busy.Load()) }

// Usage is what the instance's sandbox measured since the last ResetPeak (since the start for a
// new instance): its peak memory, and whether the memory limit killed it. Reading it costs a few
// file reads, so callers read it after answering the invocation, not on the answer's path.
func (i *Instance) Usage() Usage { return i.jail.Usage() }

// ResetPeak starts a new peak-memory measurement, for the next invocation.
func (i *Instance) ResetPeak() { i.jail.ResetPeak() }

// InitDuration is how long the bootstrap took from launch to its first request for work; for a
// specialised instance, from the start of Specialize to that request.
func (i *Instance) InitDuration() time.Duration { return i.initDur }

// Done is closed when the process has exited and its output is drained.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Close stops the process: SIGTERM to its group, then SIGKILL after a short grace. It waits for
// the instance's goroutines and is idempotent. An Invoke in flight returns ErrClosed.
func (i *Instance) Close() error {
	i.closeOnce.Do(func() {
		i.closing.Store(true)
		select {
		case <-i.exited:
		default:
			_ = syscall.Kill(-i.pgid, syscall.SIGTERM)
			t := time.NewTimer(closeGrace)
			select {
			case <-i.exited:
			case <-t.C:
				i.kill()
			}
			t.Stop()
		}
		<-i.done
	})
	return nil
}

func convertError(e *runtimeapi.FunctionError) *FunctionError {
	if e == nil {
		return nil
	}
	return &FunctionError{Type: e.Type, Message: e.Message, Trace: e.Trace}
}
