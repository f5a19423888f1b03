package api_test

import (
	"testing"

	rtcatalog "sluice.dev/runtimes/catalog"
)

// runtimes is this machine's real runtime catalog, closed when the test ends.
func runtimes(t testing.TB) *rtcatalog.Catalog {
	t.Helper()
	c := rtcatalog.New(rtcatalog.Options{})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
