// Command hang is a function whose handler never returns, and nothing else runs in its
// process (TestAHandlerThatNeverReturnsWaitsForThePlatform).
package main

import (
	"context"

	sluice "sluice.dev/sdk"
)

func main() {
	sluice.Start(func(context.Context, struct{}) (struct{}, error) { select {} })
}
