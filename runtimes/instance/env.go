package instance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultPath is the PATH a function gets unless it sets its own.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// Reserved reports whether key is set by the instance and refused in Config.Env.
func Reserved(key string) bool {
	switch key {
	case "AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_MAX_CONCURRENCY":
		return true
	}
	return false
}

// readByLibc reports whether the C library reads key on its own: glibc's list of unsecure
// environment variables (UNSECURE_ENVVARS in glibc's sysdeps/generic/unsecvars.h, those the
// dynamic loader removes for setuid programs), without its LD_ names, which CheckEnvName refuses
// whole.
func readByLibc(key string) bool {
	switch key {
	case "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
		"MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR":
		return true
	}
	return false
}

// CheckEnvName says why key cannot be a variable of a function's environment, or returns nil:
// a name with '=' or NUL, a Reserved name, an LD_ name (the dynamic loader reads every one
// before the runtime starts, so they would change how the sandboxed process itself is loaded),
// or a name the C library reads on its own (readByLibc). The variables of interpreters
// (NODE_OPTIONS, PYTHON*, JAVA_TOOL_OPTIONS) stay allowed: they only change the function's own
// process. This is the one rule of function variable names; deploys check it before storing.
func CheckEnvName(key string) error {
	switch {
	case key == "" || strings.ContainsAny(key, "=\x00"):
		return fmt.Errorf("environment variable name %q is not valid", key)
	case Reserved(key):
		return fmt.Errorf("environment variable %s is reserved: sluice sets it in every instance", key)
	case strings.HasPrefix(key, "LD_"):
		return fmt.Errorf("environment variable %s is not allowed: the dynamic loader reads it before the function runs", key)
	case readByLibc(key):
		return fmt.Errorf("environment variable %s is not allowed: the C library reads it before the function runs", key)
	}
	return nil
}

// checkEnv validates the function's own variables.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if err := CheckEnvName(k); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: env %s holds a NUL byte", ErrConfig, k)
		}
	}
	return nil
}

// environ builds the process environment from nothing but the defaults, the runtime's own
// variables, the function's Env and the reserved variables, in that order of precedence
// (later wins). The worker's own environment is never read.
func environ(cfg Config, runtimeEnv []string, api string, now time.Time) []string {
	vars := baseEnv(runtimeEnv)
	functionEnv(vars, cfg, api, cfg.CodeDir, now)
	return envList(vars)
}

// baseEnv is the defaults overlaid with the runtime's own variables: the environment of a
// process before any function is assigned to it.
func baseEnv(runtimeEnv []string) map[string]string {
	vars := map[string]string{
		"PATH": defaultPath,
		"LANG": "C.UTF-8",
		"HOME": "/tmp",
		"TZ":   "UTC",
	}
	for _, kv := range runtimeEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// functionEnv overlays vars with the function's Env and then the reserved variables.
func functionEnv(vars map[string]string, cfg Config, api, taskRoot string, now time.Time) {
	for k, v := range cfg.Env {
		vars[k] = v
	}
	mem := cfg.MemoryMB
	if mem <= 0 {
		mem = DefaultMemoryMB
	}
	if _, own := cfg.Env["GOMAXPROCS"]; !own {
		vars["GOMAXPROCS"] = strconv.Itoa(cpuShare(mem))
	}
	version := strconv.Itoa(cfg.Version)
	vars["AWS_LAMBDA_RUNTIME_API"] = api
	vars["_HANDLER"] = cfg.Handler
	vars["LAMBDA_TASK_ROOT"] = taskRoot
	vars["AWS_LAMBDA_FUNCTION_NAME"] = cfg.Function
	vars["AWS_LAMBDA_FUNCTION_VERSION"] = version
	vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(mem)
	vars["AWS_LAMBDA_LOG_GROUP_NAME"] = "/sluice/" + cfg.Function
	vars["AWS_LAMBDA_LOG_STREAM_NAME"] = now.UTC().Format("2006/01/02") + "/[" + version + "]" + cfg.ID
	delete(vars, "AWS_LAMBDA_MAX_CONCURRENCY")
	if cfg.Concurrency > 1 {
		vars["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(cfg.Concurrency)
	}
}

// mbPerCPU is the memory that buys one CPU, as on Lambda.
const mbPerCPU = 1769

// cpuShare is the CPUs an instance of memoryMB is entitled to, rounded up, at least one: the
// default GOMAXPROCS of a Go function. Without it a Go runtime schedules onto every CPU of the
// host and hands each wake-up between threads (futex and nanosleep calls several times per
// invocation), which made a Go no-op slower than a Python one.
func cpuShare(memoryMB int) int {
	return max(1, (memoryMB+mbPerCPU-1)/mbPerCPU)
}

// envList is vars as sorted KEY=VALUE strings.
func envList(vars map[string]string) []string {
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// lookupEnv finds key in a KEY=VALUE list; the last one wins, as in exec.Cmd.
func lookupEnv(env []string, key string) (string, bool) {
	for n := len(env) - 1; n >= 0; n-- {
		if k, v, ok := strings.Cut(env[n], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
