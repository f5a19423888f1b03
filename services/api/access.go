package api

import (
	"sluice.dev/services/access"
	"sluice.dev/services/keys"
)

// Access is what each route of the management API takes, for access.Guard.Protect; the routes
// not here (triggers, billing, workers, keys) are the admin's.
func Access() access.Routes {
	on := func(a keys.Action) access.Route { return access.Route{Action: a, Function: "name"} }
	return access.Routes{
		"POST /v1/code":                                  {Action: keys.Deploy},
		"GET /v1/functions":                              {Action: keys.Read}, // cut to the caller's functions
		"PUT /v1/functions/{name}":                       on(keys.Deploy),
		"GET /v1/functions/{name}":                       on(keys.Read),
		"DELETE /v1/functions/{name}":                    on(keys.Deploy),
		"GET /v1/functions/{name}/versions":              on(keys.Read),
		"GET /v1/functions/{name}/versions/{version}":    on(keys.Read),
		"DELETE /v1/functions/{name}/versions/{version}": on(keys.Deploy),
		"GET /v1/functions/{name}/aliases":               on(keys.Read),
		"GET /v1/functions/{name}/aliases/{alias}":       on(keys.Read),
		"PUT /v1/functions/{name}/aliases/{alias}":       on(keys.Deploy),
		"DELETE /v1/functions/{name}/aliases/{alias}":    on(keys.Deploy),
		"GET /v1/functions/{name}/code":                  on(keys.Read),
		"PUT /v1/functions/{name}/code":                  on(keys.Deploy),
		"GET /v1/functions/{name}/logs":                  on(keys.Read),
		"GET /v1/functions/{name}/metrics":               on(keys.Read),
		"GET /v1/functions/{name}/dlq":                   on(keys.Read),
		"GET /v1/functions/{name}/dlq/{seq}":             on(keys.Read),
		"DELETE /v1/functions/{name}/dlq":                on(keys.Deploy),
		"POST /v1/functions/{name}/dlq/redrive":          on(keys.Deploy),
	}
}
