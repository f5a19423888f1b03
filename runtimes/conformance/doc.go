// Package conformance holds the runtime conformance suite: every runtime of the catalog runs
// the same fixtures, through the deploy-time build where the runtime has one, the real sandbox
// and instance.Start, and must pass all of them. The package has no code of its own; its
// tests are the suite.
//
// # Fixtures
//
// Each runtime has one folder, testdata/<runtime>/, holding one small function per fixture:
//
//	echo     returns the event unchanged
//	http     returns {"statusCode": 201, "headers": {"X-Fixture": "yes"}, "body": "created"}
//	fail     raises the language's usual error with the message "boom"; the error's type and
//	         message reach the caller, and the instance keeps serving
//	crash    writes "about to crash" to stderr and ends the process with status 3
//	hang     never returns; the deadline kills the instance
//	flood    prints event.lines lines "line N" to stdout, then one line of event.long x's, and
//	         returns {"printed": event.lines}; the lines arrive in order, tagged with the
//	         invocation, the long one cut in pieces of at most instance.MaxLine bytes
//	env      returns {"value": the environment variable named by event.name}
//	context  logs "logged via context" with the context's logger (or the language's usual log)
//	         and returns {"requestId", "functionName", "functionVersion", "memoryLimitInMB",
//	         "remaining"} from the context object
//	counter  increments a counter kept in module state and returns {"count": n}
//	missing  names no function at all: the bootstrap reports /init/error and Start fails
//
// # Adding a runtime
//
// Add its folder of fixtures under testdata/ and one entry to targets (targets_test.go)
// naming the runtime, how a fixture's name becomes a handler and the errorType of its fail
// fixture.
package conformance
