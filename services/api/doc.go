// Package api is sluice's management HTTP API: code uploads, function deploys, reads and deletes,
// versions, and log streaming, under /v1 (DESIGN §8). Routes mounts it on a gorilla/mux router;
// the caller puts it behind the bearer-token middleware and owns /healthz and the invocation
// routes.
//
// Every error is JSON {"error": {"code": "...", "message": "..."}} with the right status. Codes
// beyond httpjson's: bad_archive (400, the package was refused, with the reason), invalid (400, a
// bad name, runtime, handler or setting, or an unknown request field), function_not_found and
// code_not_found (404).
//
// Logs are read from the SLUICE_LOGS stream with an ordered consumer and written as NDJSON, or as
// Server-Sent Events when the client accepts text/event-stream; each line is flushed at once.
package api
