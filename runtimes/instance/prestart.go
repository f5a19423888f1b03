package instance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/runtimeapi"
)

// PrestartConfig describes a generic process started before any function is assigned to it.
type PrestartConfig struct {
	ID      string // instance id until Specialize gives it the function's
	Runtime string // a catalog runtime that is Specializable
	// SlotDir is an empty folder that becomes the process's code folder and working directory;
	// Specialize fills it with the function's code. The instance owns it from then on and
	// removes it when it is done.
	SlotDir string
	// Sandbox, when set, confines the process from its start; Specialize applies the function's
	// memory setting with Jail.Limit. Its Jail sees a Config with ID, Runtime and CodeDir (the slot)
	// set and no function yet.
	Sandbox     Sandbox
	InitTimeout time.Duration // bounds Prestart besides its ctx; DefaultInitTimeout when zero
	Logger      *slog.Logger  // receives lifecycle records; nil discards them
}

// prestart is what a pre-started instance keeps for Specialize.
type prestart struct {
	slot     string            // the code folder on the host
	taskRoot string            // the code folder as the process sees it
	api      string            // AWS_LAMBDA_RUNTIME_API as the process sees it
	env      map[string]string // the process's variables before specialisation
}

// Prestart launches a generic process of a runtime: its bootstrap starts the interpreter, does
// its own imports and waits for a function on GET /sluice/specialize (package runtimeapi).
// Prestart returns once the bootstrap asks; a process that ends first, or ctx or InitTimeout
// ending first, gives a *Failure wrapping ErrInit and leaves nothing running. The instance takes
// no invocation before Specialize; Close it when it is not needed.
func Prestart(ctx context.Context, cat *catalog.Catalog, pc PrestartConfig) (*Instance, error) {
	if pc.ID == "" {
		return nil, fmt.Errorf("prestart: %w: ID is required", ErrConfig)
	}
	if !cat.Specializable(pc.Runtime, nil) {
		if err := cat.Check(pc.Runtime); err != nil {
			return nil, fmt.Errorf("prestart %s: %w", pc.ID, err)
		}
		return nil, fmt.Errorf("prestart %s: %w: runtime %s cannot be pre-started", pc.ID, ErrConfig, pc.Runtime)
	}
	if fi, err := os.Stat(pc.SlotDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("prestart %s: %w: slot folder %q is not a folder", pc.ID, ErrConfig, pc.SlotDir)
	}
	launch, err := cat.Command(pc.Runtime, 0)
	if err != nil {
		return nil, fmt.Errorf("prestart %s: %w", pc.ID, err)
	}
	cfg := Config{ID: pc.ID, Runtime: pc.Runtime, CodeDir: pc.SlotDir, InitTimeout: pc.InitTimeout,
		Sandbox: pc.Sandbox, Logger: pc.Logger}
	jail, err := newJail(ctx, cfg)
	if err != nil {
		return nil, &Failure{Kind: ErrInit, Err: fmt.Errorf("prestart %s: sandbox: %w", pc.ID, err)}
	}
	api, err := runtimeapi.New(runtimeapi.Options{Listener: jail.RuntimeAPI()})
	if err != nil {
		jail.Release()
		return nil, fmt.Errorf("prestart %s: %w", pc.ID, err)
	}
	i := newInstance(cat, cfg, api)
	i.jail = jail
	i.setLogger(pc.Logger, "runtime", pc.Runtime, "instance", pc.ID)
	env := baseEnv(launch.Env)
	env["AWS_LAMBDA_RUNTIME_API"] = api.Addr()
	env["LAMBDA_TASK_ROOT"] = pc.SlotDir
	i.prestart = &prestart{slot: pc.SlotDir, env: env}
	i.cmd = &exec.Cmd{
		Path:        launch.Path,
		Args:        launch.Args,
		Env:         envList(env),
		Dir:         pc.SlotDir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	started := time.Now()
	if err := i.launch(ctx); err != nil {
		_ = api.Close()
		return nil, &Failure{Kind: ErrInit, Err: fmt.Errorf("prestart %s: %w", pc.ID, err)}
	}
	// The sandbox may have moved the code folder and the Runtime API (/var/task, a socket).
	i.prestart.taskRoot, i.prestart.api = pc.SlotDir, api.Addr()
	if v, ok := lookupEnv(i.env, "LAMBDA_TASK_ROOT"); ok {
		i.prestart.taskRoot = v
	}
	if v, ok := lookupEnv(i.env, "AWS_LAMBDA_RUNTIME_API"); ok {
		i.prestart.api = v
	}
	go i.wait()
	if err := i.await(ctx, api.Waiting(), pc.InitTimeout); err != nil {
		return nil, err
	}
	i.logger().Debug("instance pre-started", "took", time.Since(started))
	return i, nil
}

// Prestarted reports whether the instance was started by Prestart (and then specialised) rather
// than by Start.
func (i *Instance) Prestarted() bool { return i.prestart != nil }

// Specialize assigns a function to a pre-started instance: it fills the slot folder with the
// code of cfg.CodeDir (hard links where the file system allows, else copies), applies the memory
// setting to the jail, and hands the bootstrap its handler and the environment a process started
// for cfg would have. It returns once the bootstrap has loaded the handler and asks for an
// invocation; InitDuration is then the time Specialize took. cfg.Runtime must be the
// instance's runtime, and cfg.Sandbox and cfg.InitTimeout are those of Prestart when unset.
// On any error the process is ended (a handler that cannot be loaded gives a *Failure wrapping
// ErrInit, as Start does); Close the instance either way.
func (i *Instance) Specialize(ctx context.Context, cfg Config) error {
	if i.prestart == nil {
		return fmt.Errorf("specialize %s: %w: not a pre-started instance", cfg.ID, ErrConfig)
	}
	if i.specialized.Swap(true) {
		return fmt.Errorf("specialize %s: %w: already specialised", cfg.ID, ErrConfig)
	}
	started := time.Now()
	fail := func(err error) error {
		i.kill()
		<-i.done
		return fmt.Errorf("specialize %s: %w", cfg.ID, err)
	}
	if cfg.Runtime != i.cfg.Runtime {
		return fail(fmt.Errorf("%w: runtime %s on a %s instance", ErrConfig, cfg.Runtime, i.cfg.Runtime))
	}
	if err := checkConfig(i.cat, cfg); err != nil {
		return fail(err)
	}
	if !i.cat.Specializable(cfg.Runtime, cfg.Env) {
		return fail(fmt.Errorf("%w: the function's variables only take effect in a process started for it", ErrConfig))
	}
	if cfg.Sandbox == nil {
		cfg.Sandbox = i.cfg.Sandbox
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = i.cfg.InitTimeout
	}
	if err := fillSlot(cfg.CodeDir, i.prestart.slot); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrInit, err))
	}
	filled := time.Now()
	mem := cfg.MemoryMB
	if mem <= 0 {
		mem = DefaultMemoryMB
	}
	if err := i.jail.Limit(mem); err != nil {
		return fail(fmt.Errorf("%w: sandbox: %w", ErrInit, err))
	}
	limited := time.Now()
	vars := make(map[string]string, len(i.prestart.env)+len(cfg.Env)+8)
	for k, v := range i.prestart.env {
		vars[k] = v
	}
	functionEnv(vars, cfg, i.prestart.api, i.prestart.taskRoot, started)

	prestartID := i.cfg.ID
	i.cfg = cfg
	i.conc.Store(int32(max(cfg.Concurrency, 1)))
	i.setLogger(cfg.Logger, "function", cfg.Function, "version", cfg.Version, "instance", cfg.ID, "prestarted", prestartID)
	i.logMu.Lock()
	i.logs = cfg.Logs
	i.logMu.Unlock()

	err := i.api.Specialize(ctx, &runtimeapi.Specialization{
		Handler: cfg.Handler, TaskRoot: i.prestart.taskRoot, Env: vars,
		FunctionName: cfg.Function, FunctionVersion: cfg.Version, MemoryMB: mem, Concurrency: cfg.Concurrency,
	})
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrInit, err))
	}
	if err := i.await(ctx, i.api.Ready(), cfg.InitTimeout); err != nil {
		return err
	}
	i.initDur = time.Since(started)
	i.logger().Debug("instance specialised", "init", i.initDur,
		"fill", filled.Sub(started), "limit", limited.Sub(filled), "load", time.Since(limited))
	return nil
}
