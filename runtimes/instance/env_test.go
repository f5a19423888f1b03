package instance

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckEnvName(t *testing.T) {
	refused := map[string]string{
		"LD_PRELOAD":             "the dynamic loader reads it before the function runs",
		"LD_LIBRARY_PATH":        "the dynamic loader reads it before the function runs",
		"LD_AUDIT":               "the dynamic loader reads it before the function runs",
		"LD_DEBUG":               "the dynamic loader reads it before the function runs",
		"LD_DEBUG_OUTPUT":        "the dynamic loader reads it before the function runs",
		"LD_DYNAMIC_WEAK":        "the dynamic loader reads it before the function runs",
		"LD_HWCAP_MASK":          "the dynamic loader reads it before the function runs",
		"LD_ORIGIN_PATH":         "the dynamic loader reads it before the function runs",
		"LD_PROFILE":             "the dynamic loader reads it before the function runs",
		"LD_SHOW_AUXV":           "the dynamic loader reads it before the function runs",
		"LD_USE_LOAD_BIAS":       "the dynamic loader reads it before the function runs",
		"LD_BIND_NOW":            "the dynamic loader reads it before the function runs",
		"LD_ANYTHING_NEW":        "the dynamic loader reads it before the function runs",
		"GCONV_PATH":             "the C library reads it before the function runs",
		"GETCONF_DIR":            "the C library reads it before the function runs",
		"GLIBC_TUNABLES":         "the C library reads it before the function runs",
		"HOSTALIASES":            "the C library reads it before the function runs",
		"LOCALDOMAIN":            "the C library reads it before the function runs",
		"LOCPATH":                "the C library reads it before the function runs",
		"MALLOC_TRACE":           "the C library reads it before the function runs",
		"NIS_PATH":               "the C library reads it before the function runs",
		"NLSPATH":                "the C library reads it before the function runs",
		"RESOLV_HOST_CONF":       "the C library reads it before the function runs",
		"RES_OPTIONS":            "the C library reads it before the function runs",
		"TMPDIR":                 "the C library reads it before the function runs",
		"TZDIR":                  "the C library reads it before the function runs",
		"_HANDLER":               "reserved",
		"AWS_LAMBDA_RUNTIME_API": "reserved",
		"A=B":                    "not valid",
		"":                       "not valid",
	}
	for name, why := range refused {
		err := CheckEnvName(name)
		if err == nil || !strings.Contains(err.Error(), why) || name != "" && !strings.Contains(err.Error(), name) {
			t.Errorf("CheckEnvName(%q) = %v, want an error naming it and saying %q", name, err, why)
		}
	}
	if err := CheckEnvName("LD_PRELOAD"); err == nil || err.Error() != "environment variable LD_PRELOAD is not allowed: the dynamic loader reads it before the function runs" {
		t.Errorf("CheckEnvName(LD_PRELOAD) = %v", err)
	}
	for _, name := range []string{"NODE_OPTIONS", "PYTHONPATH", "PYTHONUNBUFFERED", "JAVA_TOOL_OPTIONS", "TZ", "LANG", "PATH",
		"HOME", "GREETING", "ld_preload", "OLD_PRELOAD", "LD", "MY_TMPDIR"} {
		if err := CheckEnvName(name); err != nil {
			t.Errorf("CheckEnvName(%q) = %v, want nil", name, err)
		}
	}
	if err := checkEnv(map[string]string{"GREETING": "hi", "LD_PRELOAD": "/tmp/x.so"}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "LD_PRELOAD") {
		t.Errorf("checkEnv = %v, want ErrConfig naming LD_PRELOAD", err)
	}
}

func TestGoMaxProcsFollowsTheMemoryShare(t *testing.T) {
	for _, c := range []struct {
		mem  int
		own  string
		want string
	}{
		{mem: 128, want: "1"},
		{mem: 1769, want: "1"},
		{mem: 1770, want: "2"},
		{mem: 10240, want: "6"},
		{mem: 0, want: "1"}, // DefaultMemoryMB
		{mem: 128, own: "4", want: "4"},
	} {
		cfg := Config{Function: "f", Handler: "h", MemoryMB: c.mem}
		if c.own != "" {
			cfg.Env = map[string]string{"GOMAXPROCS": c.own}
		}
		got, _ := lookupEnv(environ(cfg, nil, "127.0.0.1:9001", time.Now()), "GOMAXPROCS")
		if got != c.want {
			t.Errorf("memory %d MB, own %q: GOMAXPROCS=%q, want %q", c.mem, c.own, got, c.want)
		}
	}
}
