package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
	"sluice.dev/services/api"
)

func TestDeployRefusesLoaderVariables(t *testing.T) {
	e := start(t)
	inline := `"inline":{"file":"main.py","content":"def handler(e, c):\n    return 1\n"}`
	for name, tc := range map[string]struct{ env, msg string }{
		"preload":  {`{"GREETING":"hi","LD_PRELOAD":"/tmp/x.so"}`, "environment variable LD_PRELOAD is not allowed: the dynamic loader reads it before the function runs"},
		"library":  {`{"LD_LIBRARY_PATH":"/tmp"}`, "environment variable LD_LIBRARY_PATH is not allowed: the dynamic loader reads it before the function runs"},
		"gconv":    {`{"GCONV_PATH":"/tmp"}`, "environment variable GCONV_PATH is not allowed: the C library reads it before the function runs"},
		"tunable":  {`{"GLIBC_TUNABLES":"glibc.malloc.check=3"}`, "environment variable GLIBC_TUNABLES is not allowed"},
		"reserved": {`{"AWS_LAMBDA_RUNTIME_API":"127.0.0.1:1"}`, "environment variable AWS_LAMBDA_RUNTIME_API is reserved"},
	} {
		t.Run(name, func(t *testing.T) {
			st, ed := e.do(t, "PUT", "/v1/functions/loader", `{"runtime":"python","handler":"main.handler","env":`+tc.env+`,`+inline+`}`, nil)
			if st != 400 || ed.Code != api.CodeInvalid || !strings.Contains(ed.Message, tc.msg) {
				t.Fatalf("deploy: %d %+v, want 400 with %q", st, ed, tc.msg)
			}
		})
	}
	// Nothing was stored: no function, no code.
	if st, ed := e.do(t, "GET", "/v1/functions/loader", "", nil); st != 404 || ed.Code != api.CodeFunctionNotFound {
		t.Fatalf("a refused function was stored: %d %+v", st, ed)
	}
	obj, err := e.bus.JS.ObjectStore(t.Context(), events.ObjectCode)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := obj.List(t.Context()); !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Fatalf("a refused deploy stored code: %v %v", list, err)
	}

	// Interpreter variables only change the function's own process: allowed.
	env := `{"NODE_OPTIONS":"--max-old-space-size=64","PYTHONUNBUFFERED":"1","JAVA_TOOL_OPTIONS":"-Xss1m"}`
	if st, ed := e.do(t, "PUT", "/v1/functions/loader", `{"runtime":"python","handler":"main.handler","env":`+env+`,`+inline+`}`, nil); st != 201 {
		t.Fatalf("deploy with interpreter variables: %d %+v", st, ed)
	}
}
