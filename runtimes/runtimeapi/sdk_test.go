package runtimeapi

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	sdk "sluice.dev/sdk"
)

// sluice's Go SDK pipelines each answer with its next /next: an answer this server refuses (a
// response past MaxResponse) fails its invocation, and the SDK goes on to the next one, on this
// connection or a new one.
func TestGoSDKGoesOnAfterARefusedAnswer(t *testing.T) {
	s, _ := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		env := map[string]string{"AWS_LAMBDA_RUNTIME_API": s.Addr()}
		done <- sdk.Run(ctx, func(k string) string { return env[k] }, func(_ context.Context, size int) (string, error) {
			return strings.Repeat("z", size), nil
		})
	}()
	defer func() {
		cancel()
		_ = s.Close()
		<-done
	}()
	for i, size := range []int{MaxResponse + 1, 10, MaxResponse + 1, 20} {
		id := "g" + strconv.Itoa(i)
		a := wait(t, invokeAsync(context.Background(), s, &Invocation{ID: id, Deadline: time.Now().Add(time.Minute), Payload: []byte(strconv.Itoa(size))}))
		tooLarge := size > MaxResponse
		switch {
		case a.err != nil:
			t.Fatalf("invocation %d: %v", i, a.err)
		case tooLarge && (a.r.Error == nil || a.r.Error.Type != "Function.ResponseSizeTooLarge"):
			t.Fatalf("invocation %d of %d bytes: %+v, want Function.ResponseSizeTooLarge", i, size, a.r.Error)
		case !tooLarge && (a.r.Error != nil || len(a.r.Payload) != size+2):
			t.Fatalf("invocation %d: error %+v, %d bytes of payload, want %d", i, a.r.Error, len(a.r.Payload), size+2)
		}
	}
}
