// Package cli is the sluice command line (DESIGN §8): deploy, invoke, invocation, list, get,
// delete, logs, and the server entry points up and serve.
//
// Run is the whole program as a function of its arguments, environment (getenv), standard
// streams and the server roles it may start, so it is tested without a process. Exit codes: 0
// success, 1 failure (an API error, a failed invocation), 2 bad usage. Client commands find the
// node through SLUICE_URL and SLUICE_TOKEN, from the environment or the config file that `sluice
// up` writes (see clientconfig).
package cli
