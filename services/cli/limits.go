package cli

import (
	"github.com/spf13/cobra"

	"sluice.dev/events"
)

// addLimitFlags binds --max-waiting to the node's maxWaiting and --store-max to storeMax, a size
// such as 2GiB until checkLimits reads it.
func addLimitFlags(cmd *cobra.Command, storeMax *string, maxWaiting *int, serve bool) {
	fs := cmd.Flags()
	if serve {
		fs.StringVar(storeMax, "store-max", "", "size the bus's streams and buckets as shares of this much JetStream store, e.g. 20GiB (default: keep the sizes the bus has)")
	} else {
		fs.StringVar(storeMax, "store-max", "", "size of the JetStream store, shared out among the streams and buckets, e.g. 2GiB (default: half of the data folder's free space at start)")
	}
	fs.IntVar(maxWaiting, "max-waiting", 0, "synchronous calls of one function the gateway lets wait at once; more get 429 with Retry-After (default 256)")
}

// checkLimits checks --max-waiting and returns --store-max in bytes (0 when not given).
func checkLimits(storeMax string, maxWaiting int) (int64, error) {
	if maxWaiting < 0 {
		return 0, usagef("--max-waiting must be a positive number (0: the default)")
	}
	if storeMax == "" {
		return 0, nil
	}
	n, err := events.ParseSize(storeMax)
	if err != nil {
		return 0, usagef("--store-max: %v", err)
	}
	if n < events.MinStore {
		return 0, usagef("--store-max %s: the bus needs a store of at least %s", storeMax, events.FormatSize(events.MinStore))
	}
	return n, nil
}
