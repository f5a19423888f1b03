package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/events"
)

// BenchmarkUploadToBus measures an upload's way into SLUICE_INVOKE: from PutObject's start to
// the event stored on the bus (ns/op is that latency, listing every 50ms as in the tests).
func BenchmarkUploadToBus(b *testing.B) {
	r := newRig(b)
	r.minio.makeBucket(b, "bench")
	r.run(r.spec("bench", events.StorageSpec{Bucket: "bench"}))
	s, err := r.bus.JS.Stream(context.Background(), events.StreamInvoke)
	if err != nil {
		b.Fatal(err)
	}
	stored := func() uint64 {
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(events.InvokeSubject(fn)+".>"))
		if err != nil {
			b.Fatal(err)
		}
		return info.State.Msgs
	}
	b.ResetTimer()
	for i := range b.N {
		r.minio.put(b, "bench", fmt.Sprint("k", i), "x")
		for stored() < uint64(i+1) {
			time.Sleep(time.Millisecond)
		}
	}
}
