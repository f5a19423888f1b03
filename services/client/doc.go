// Package client is a Go client of sluice's HTTP API: code upload, deploys, function reads and
// deletes, versions and aliases, code files and one-file edits, invocations (sync and async),
// invocation records and log streams. It sends the bearer
// token on every call. API errors come back as *Error with the API's status, code and message;
// a function's own failure is not an API error but an Invocation with a non-ok Outcome.
//
// Request and response bodies are those of sluice.dev/services/api/wire; the client imports no
// package of the server.
package client
