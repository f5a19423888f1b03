// Package e2e drives a built sluice binary the way a user does: it starts `sluice up` on a
// temporary data directory and a free loopback port, then speaks to it only through the CLI and
// HTTP contract of docs/design.md §8. It imports nothing of the services or runtimes; records are decoded
// with the types of sluice.dev/events.
//
// The binary is built once per test run (TestMain); set SLUICE_E2E_BIN to test a prebuilt one.
//
// The console test drives the web console in a headless Chromium found on PATH (chromium,
// chromium-browser or google-chrome); without one it is skipped, unless SLUICE_REQUIRE_CHROMIUM=1
// (CI), where it fails. SLUICE_SCREENSHOTS=DIR keeps its screenshots of every page.
package e2e
