package cli

import (
	"github.com/spf13/cobra"

	"sluice.dev/events"
)

// limitFlags holds the flags of LimitOptions until they are checked.
type limitFlags struct {
	storeMax   string
	maxWaiting int
}

// addLimitFlags adds --store-max and --max-waiting.
func addLimitFlags(cmd *cobra.Command, f *limitFlags, serve bool) {
	fs := cmd.Flags()
	if serve {
		fs.StringVar(&f.storeMax, "store-max", "", "size the bus's streams and buckets as shares of this much JetStream store, e.g. 20GiB (default: keep the sizes the bus has)")
	} else {
		fs.StringVar(&f.storeMax, "store-max", "", "size of the JetStream store, shared out among the streams and buckets, e.g. 2GiB (default: half of the data folder's free space at start)")
	}
	fs.IntVar(&f.maxWaiting, "max-waiting", 0, "synchronous calls of one function the gateway lets wait at once; more get 429 with Retry-After (default 256)")
}

// options checks the flags.
func (f limitFlags) options() (LimitOptions, error) {
	var o LimitOptions
	if f.maxWaiting < 0 {
		return o, usagef("--max-waiting must be a positive number (0: the default)")
	}
	o.MaxWaiting = f.maxWaiting
	if f.storeMax != "" {
		n, err := events.ParseSize(f.storeMax)
		if err != nil {
			return o, usagef("--store-max: %v", err)
		}
		if n < events.MinStore {
			return o, usagef("--store-max %s: the bus needs a store of at least %s", f.storeMax, events.FormatSize(events.MinStore))
		}
		o.StoreMax = n
	}
	return o, nil
}
