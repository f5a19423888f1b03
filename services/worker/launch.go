package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"sluice.dev/events"
	"sluice.dev/runtimes/catalog"
	"sluice.dev/runtimes/instance"
	"sluice.dev/runtimes/warmpool"
)

// startKind says how an invocation got its instance.
type startKind int

const (
	startWarm       startKind = iota // an idle instance of the version was reused
	startPrestarted                  // a pre-started process was specialised (cold, no interpreter start)
	startScratch                     // a process was started for the function (cold)
)

func (k startKind) String() string {
	switch k {
	case startWarm:
		return "warm"
	case startPrestarted:
		return "pre-started"
	}
	return "scratch"
}

// launcher starts the processes of new instances: it unpacks the code, names the instance,
// and specialises a pre-started process or starts one. Safe for concurrent use.
type launcher struct {
	worker  string // the worker's id, which instance ids start with
	code    *codeCache
	rt      *catalog.Catalog
	sandbox instance.Sandbox
	warm    *warmpool.Pool // nil when no runtime keeps pre-started processes
	tel     Telemetry      // receives the instances' log lines
	taps    *logTaps       // and so do the taps of invocations whose callers want their log's tail
	logger  *slog.Logger
	seq     atomic.Int64 // instances started, for their ids
}

// launch gives a new instance of v: a pre-started process of its runtime specialised for it when
// the warm pool has one and the function's variables allow it, else a process started for it.
func (l *launcher) launch(ctx context.Context, v events.Version) (*instance.Instance, startKind, error) {
	dir, err := l.code.Dir(ctx, v.Code)
	if err != nil {
		return nil, startScratch, fmt.Errorf("%w: %w", instance.ErrInit, err)
	}
	id := fmt.Sprintf("%s-%d", l.worker, l.seq.Add(1))
	cfg := instance.Config{
		ID: id, Function: v.Function, Version: v.Version, Runtime: v.Config.Runtime, Handler: v.Config.Handler,
		CodeDir: dir, MemoryMB: v.Config.MemoryMB, Timeout: v.Config.Timeout.D(), Env: v.Config.Env,
		Concurrency: v.Config.Concurrency,
		Sandbox:     l.sandbox,
		Logs: func(line instance.Line) {
			ll := events.LogLine{Time: line.Time, Function: v.Function, Version: v.Version, Instance: id,
				InvocationID: line.RequestID, Stream: line.Stream, Message: line.Text}
			l.taps.add(ll)
			l.tel.Log(ll)
		},
	}
	if inst, ok, err := l.specialise(ctx, cfg); ok {
		return inst, startPrestarted, err
	}
	inst, err := instance.Start(ctx, l.rt, cfg)
	if err != nil {
		return nil, startScratch, err
	}
	return inst, startScratch, nil
}

// specialise turns a pre-started process of the runtime into the instance cfg describes, when
// the warm pool has one and the function's variables allow it. ok reports that the outcome is
// final: the instance, or the function's own init failure (a new process would fail alike). A
// process that fails otherwise is closed, and the caller starts one for the function.
func (l *launcher) specialise(ctx context.Context, cfg instance.Config) (inst *instance.Instance, ok bool, err error) {
	if l.warm == nil || !l.rt.Specializable(cfg.Runtime, cfg.Env) {
		return nil, false, nil
	}
	inst, ok = l.warm.Take(cfg.Runtime)
	if !ok {
		return nil, false, nil
	}
	err = inst.Specialize(ctx, cfg)
	if err == nil {
		return inst, true, nil
	}
	_ = inst.Close()
	if _, ok := errors.AsType[*instance.Failure](err); ok {
		return nil, true, err
	}
	l.logger.Warn("specialise a pre-started process; starting one for the function instead",
		"function", cfg.Function, "err", err)
	return nil, false, nil
}
