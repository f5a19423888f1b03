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
// A synchronous call publishes the event into SLUICE_INVOKE with a Sluice-Reply inbox header and
// waits on that inbox; the event carries its caller's deadline (extension sluicedeadline) so a
// worker never runs an event nobody waits for. An asynchronous call records the invocation as
// queued in sluice_results (create-only, so it never overwrites a result) and answers 202 once
// JetStream has stored the event.
package gateway
