package registry

import (
	"fmt"
	"regexp"
	"time"

	"sluice.dev/events"
	"sluice.dev/runtimes/instance"
)

// Bounds of a function's settings.
const (
	MinMemoryMB    = 64
	MaxMemoryMB    = 10240
	MinTimeout     = time.Second
	MaxTimeout     = 15 * time.Minute
	MaxInstances   = 1000
	MaxConcurrency = 1000
	MaxRetries     = 10
	MaxDescription = 256
	MaxEnvBytes    = 4 << 10
)

// WithDefaults fills the zero fields of cfg with the events.Default* values: memory, timeout,
// max, concurrency and idle timeout. Retries are taken as given, since 0 is a meaningful setting
// (callers that want the default set events.DefaultRetries themselves).
func WithDefaults(cfg events.Config) events.Config {
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = events.DefaultMemoryMB
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = events.Duration(events.DefaultTimeout)
	}
	if cfg.Max == 0 {
		cfg.Max = max(events.DefaultMax, cfg.Min)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = events.DefaultConcurrency
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = events.Duration(events.DefaultIdleTimeout)
	}
	return cfg
}

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckConfig checks cfg's settings as Deploy does (after WithDefaults), but not its runtime and
// handler: what a caller can refuse before storing any code. Errors wrap ErrInvalid.
func CheckConfig(cfg events.Config) error {
	if err := validate(WithDefaults(cfg)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// validate checks the ranges of a defaulted config and the names of its variables
// (instance.CheckEnvName); the handler (required by most runtimes, not by go and custom) is the
// catalog's to check.
func validate(cfg events.Config) error {
	switch {
	case cfg.Runtime == "":
		return fmt.Errorf("runtime is required")
	case cfg.MemoryMB < MinMemoryMB || cfg.MemoryMB > MaxMemoryMB:
		return fmt.Errorf("memoryMB %d is out of range: use %d to %d", cfg.MemoryMB, MinMemoryMB, MaxMemoryMB)
	case cfg.Timeout.D() < MinTimeout || cfg.Timeout.D() > MaxTimeout:
		return fmt.Errorf("timeout %s is out of range: use %s to %s", cfg.Timeout.D(), MinTimeout, MaxTimeout)
	case cfg.Min < 0 || cfg.Min > cfg.Max || cfg.Max > MaxInstances:
		return fmt.Errorf("min %d and max %d are out of range: use 0 <= min <= max <= %d", cfg.Min, cfg.Max, MaxInstances)
	case cfg.Concurrency < 1 || cfg.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d is out of range: use 1 to %d", cfg.Concurrency, MaxConcurrency)
	case cfg.IdleTimeout.D() < time.Second:
		return fmt.Errorf("idleTimeout %s is too short: use at least 1s", cfg.IdleTimeout.D())
	case cfg.MaxEventAge != 0 && (cfg.MaxEventAge.D() < time.Minute || cfg.MaxEventAge.D() > events.DefaultMaxEventAge):
		return fmt.Errorf("maxEventAge %s is out of range: use 1m to %s", cfg.MaxEventAge.D(), events.DefaultMaxEventAge)
	case cfg.OnSuccess == events.DestinationDLQ:
		return fmt.Errorf("onSuccess: the dead-letter queue takes failures only")
	case cfg.Reserved < 0 || cfg.Reserved > 0 && cfg.Reserved != cfg.Max:
		return fmt.Errorf("reserved concurrency %d: use 0 (none) or the function's max (%d)", cfg.Reserved, cfg.Max)
	case cfg.Retries < 0 || cfg.Retries > MaxRetries:
		return fmt.Errorf("retries %d is out of range: use 0 to %d", cfg.Retries, MaxRetries)
	case cfg.PublicAsync && !cfg.Public:
		return fmt.Errorf("publicAsync lets anyone queue events on the function URL, so it needs public")
	case len(cfg.Description) > MaxDescription:
		return fmt.Errorf("description is longer than %d bytes", MaxDescription)
	}
	size := 0
	for k, v := range cfg.Env {
		if !envKeyRE.MatchString(k) {
			return fmt.Errorf("environment variable name %q is not valid: use letters, digits and underscores, not starting with a digit", k)
		}
		if err := instance.CheckEnvName(k); err != nil {
			return err
		}
		size += len(k) + len(v)
	}
	if size > MaxEnvBytes {
		return fmt.Errorf("environment variables take %d bytes: the limit is %d", size, MaxEnvBytes)
	}
	for name, d := range map[string]string{"onSuccess": cfg.OnSuccess, "onFailure": cfg.OnFailure} {
		if _, err := events.ParseDestination(d); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
