// Conformance fixtures of the go runtime (see the package's doc.go), written with sluice's Go
// SDK. One binary holds every fixture; the handler (_HANDLER) picks one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	sluice "sluice.dev/sdk"
)

type event = json.RawMessage

var count int

func main() {
	switch h := os.Getenv("_HANDLER"); h {
	case "echo":
		sluice.Start(func(_ context.Context, in event) (event, error) { return in, nil })
	case "http":
		sluice.Start(func(context.Context, event) (map[string]any, error) {
			return map[string]any{"statusCode": 201, "headers": map[string]string{"X-Fixture": "yes"}, "body": "created"}, nil
		})
	case "fail":
		sluice.Start(func(context.Context, event) (event, error) { return nil, errors.New("boom") })
	case "crash":
		sluice.Start(func(context.Context, event) (event, error) {
			fmt.Fprintln(os.Stderr, "about to crash")
			os.Exit(3)
			return nil, nil
		})
	case "hang":
		sluice.Start(func(ctx context.Context, _ event) (event, error) { select {} })
	case "flood":
		sluice.Start(func(_ context.Context, in struct{ Lines, Long int }) (map[string]int, error) {
			for n := range in.Lines {
				fmt.Printf("line %d\n", n)
			}
			fmt.Println(strings.Repeat("x", in.Long))
			return map[string]int{"printed": in.Lines}, nil
		})
	case "env":
		sluice.Start(func(_ context.Context, in struct{ Name string }) (map[string]string, error) {
			return map[string]string{"value": os.Getenv(in.Name)}, nil
		})
	case "context":
		sluice.Start(func(ctx context.Context, _ event) (map[string]any, error) {
			fc := sluice.FromContext(ctx)
			fc.Log.Info("logged via context")
			return map[string]any{
				"requestId":       fc.RequestID,
				"functionName":    fc.FunctionName,
				"functionVersion": fc.FunctionVersion,
				"memoryLimitInMB": fc.MemoryMB,
				"remaining":       fc.RemainingTime().Milliseconds(),
			}, nil
		})
	case "counter":
		sluice.Start(func(context.Context, event) (map[string]int, error) {
			count++
			return map[string]int{"count": count}, nil
		})
	default:
		sluice.FailInit(fmt.Errorf("no fixture %q", h))
	}
}
