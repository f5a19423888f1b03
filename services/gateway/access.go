package gateway

import (
	"sluice.dev/services/access"
	"sluice.dev/services/keys"
)

// Access is what the gateway's API routes take, for access.Guard.Protect (function URLs and
// routes check their callers themselves: public ones take anyone).
func Access() access.Routes {
	return access.Routes{
		"POST /v1/functions/{name}/invocations": {Action: keys.Invoke, Function: "name"},
		"GET /v1/invocations/{id:.+}":           {Action: keys.Invoke}, // the handler checks the invocation's function
		"POST /v1/events":                       {Action: keys.Invoke}, // routed only to functions the caller may invoke
	}
}
