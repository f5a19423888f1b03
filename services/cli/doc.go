// Package cli is the sluice command line (docs/design.md §8): deploy (flags or a YAML manifest, -f),
// invoke, invocation, list, get (with its scale), workers, delete, versions, alias, code (read and edit one file), logs,
// and the server entry points up and serve (with the node's --s3-* object storage settings).
//
// Manifests are read node by node (go.yaml.in/yaml/v3) so that every unknown key, wrong type or
// missing field is reported with its file and line; all code is packaged before the first
// deploy, so a manifest with a mistake deploys nothing.
//
// Run is the whole program as a function of its arguments, environment (getenv), standard
// streams and the server roles it may start, so it is tested without a process. Exit codes: 0
// success, 1 failure (an API error, a failed invocation), 2 bad usage. Client commands find the
// node through SLUICE_URL and SLUICE_TOKEN, from the environment or the config file that `sluice
// up` writes (see clientconfig).
package cli
