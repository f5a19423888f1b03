// Package api is sluice's management HTTP API: code uploads, function deploys (from an upload, an
// s3:// code URL or inline code), reads and deletes, versions and aliases, one-file code edits,
// log streaming, and the scale view (a function's lag, the scaler's decision and its instances on
// each live worker, in GET /v1/functions/{name}; the live workers in GET /v1/workers), under /v1 (docs/design.md §8). Routes mounts it on a gorilla/mux router;
// the caller puts it behind the bearer-token middleware and owns /healthz and the invocation
// routes.
//
// Every error is JSON {"error": {"code": "...", "message": "..."}} with the right status. Codes
// beyond httpjson's: bad_archive (400, the package was refused, with the reason), invalid (400, a
// bad name, runtime, handler or setting, or an unknown request field), function_not_found,
// version_not_found, alias_not_found, file_not_found and code_not_found (404), version_in_use
// (409, naming the alias that holds the version, or saying it is the latest), no_object_storage
// (400, a code URL on a node without S3 settings), code_url_not_found (404, "no object
// s3://b/k"), code_url_denied and code_url_unreachable (502, the object store refused the node's
// credentials or does not answer).
//
// The bodies it reads and writes, and the limits and formats a client needs, are declared in
// sluice.dev/services/api/wire, which the client imports instead of this package.
//
// Logs are a function's batch records on SLUICE_LOGS and the START, END and REPORT lines of its
// meter records on SLUICE_METERS, each read with an ordered consumer and merged by the lines'
// times (logs.go), and written one LogLine JSON a line as NDJSON, or as Server-Sent Events (id:
// the line's record and place, "logs.SEQ.N" or "meters.SEQ.N") when the client accepts
// text/event-stream; each line is flushed at once.
package api
