// Package gateway turns calls into invocation CloudEvents on the bus and answers them.
//
// Routes (mounted by the node): POST /v1/functions/{name}/invocations (sync, or async with the
// header X-Sluice-Invocation-Type: Event), GET /v1/invocations/{id}, and function URLs
// ANY /fn/{name}[/{path}] where the HTTP request becomes the event data in the shape of a Lambda
// function URL (payload format 2.0) and the handler's {statusCode, headers, body,
// isBase64Encoded} answer becomes the HTTP response.
//
// Both take a qualifier, ?qualifier=Q on the invocation API and /fn/{name}:Q on function URLs: a
// version number, an alias, or latest (the default). The directory resolves it once per call (a
// weighted alias draws its canary version there), the event carries the version, and every answer,
// 202s included, says in X-Sluice-Version which version ran or will run.
//
// HTTP route triggers (events.HTTPSpec in the sluice_triggers bucket) are served under
// RoutePrefix, /r, clear of /v1, /fn, /healthz, /metrics and the console: a route /orders/{id}
// answers at /r/orders/42. What is particular to routes lives in the trigger kind's package,
// sluice.dev/adapters/route: the table that follows the bucket, matching a path to the best
// route, CORS, and the event a request becomes (the same function-URL event, with routeKey
// "METHOD PATH" and pathParameters; source /sluice/route/<trigger id>). The gateway serves them: a
// route needs the token unless public, a CORS preflight (OPTIONS with
// Access-Control-Request-Method) is answered 204 here, 403 for other origins, and the event goes
// through the invocation path below like any call's.
//
// Function URLs and routes share the origin of the console and the API, so every answer of
// theirs, the gateway's own errors included, goes out under one header policy (isolated): the
// Content-Security-Policy FunctionSandbox is added beside any the function sets, which runs a
// function's page in an opaque origin (no storage, cookies or service workers of the shared
// origin, no same-origin calls to the API); X-Content-Type-Options is nosniff; and the headers
// that set state for the whole origin or host, Set-Cookie and Service-Worker-Allowed first, are
// dropped. A function that needs cookies needs an origin of its own, which the gateway does not
// offer.
//
// A synchronous call publishes the event into SLUICE_INVOKE with a Sluice-Reply inbox header and
// waits on that inbox; the event carries its caller's deadline (extension sluicedeadline) so a
// worker never runs an event nobody waits for. An asynchronous call records the invocation as
// queued in sluice_results (create-only, so it never overwrites a result) and answers 202 once
// JetStream has stored the event.
//
// Limits: a gateway lets Options.MaxWaiting synchronous calls of one function wait at once (429
// with Retry-After beyond); a synchronous call moves its connection's deadlines to SyncWait and a
// margin, past the server's ordinary ones. A full SLUICE_INVOKE (the store sizes it, discard new)
// refuses an event with an error events.IsStoreFull knows: the caller gets 507 with Retry-After,
// the refused asynchronous call's queued record is removed, and nothing queued before is lost.
// A public function URL or route takes asynchronous calls without the token only from a function
// deployed with PublicAsync (403 otherwise).
package gateway
