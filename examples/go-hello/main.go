// A greeting function with sluice's Go SDK:
//
//	sluice deploy go-hello --source examples/go-hello --runtime go --handler bootstrap
//
// sluice builds it at deploy (go build) and runs the binary.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"

	sluice "sluice.dev/sdk"
)

// Event is a direct invocation's data, or a function URL's request (its body holds the JSON).
type Event struct {
	Name            string `json:"name"`
	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
}

type Greeting struct {
	Message string `json:"message"`
	Runtime string `json:"runtime"`
}

func hello(ctx context.Context, ev Event) (Greeting, error) {
	if ev.Body != "" { // called through its function URL: the event is the HTTP request
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			body, _ = base64.StdEncoding.DecodeString(ev.Body)
		}
		var inner Event
		if json.Unmarshal(body, &inner) == nil {
			ev = inner
		}
	}
	name := ev.Name
	if name == "" {
		name = "world"
	}
	sluice.Logger(ctx).Info("saying hello", "name", name)
	return Greeting{Message: "Hello, " + name + "!", Runtime: "go"}, nil
}

func main() { sluice.Start(hello) }
