package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"sluice.dev/adapters/storage"
	"sluice.dev/events"
)

// BenchmarkUploadToBus measures an upload's way into SLUICE_INVOKE: from PutObject's start to
// the event stored on the bus (ns/op is that latency), with the adapter's own defaults.
func BenchmarkUploadToBus(b *testing.B) {
	r := newRig(b)
	r.minio.makeBucket(b, "bench")
	run := r.runWith(r.spec("bench", events.StorageSpec{Bucket: "bench"}), r.defaults())
	waitLive(b, run)
	uploadToBus(b, r, "bench")
}

// BenchmarkLargeBucket fills a bucket with $SLUICE_BENCH_OBJECTS objects (50,000 when unset),
// then measures, with the adapter's defaults: the idle CPU of the adapter's process (with its
// embedded bus) and of MinIO over 20 s, as a share of one core, beside MinIO's own idle CPU
// before the trigger started; how long one listing of the bucket takes (what the adapter
// repeated every second before live events); and, as ns/op, an upload's way to the bus.
//
//	go test -run '^$' -bench LargeBucket -benchtime 200x ./storage
func BenchmarkLargeBucket(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v
	}
	r := newRig(b)
	r.minio.makeBucket(b, "large")
	fill(b, r, "large", n)

	ctx := context.Background()
	began := time.Now()
	listed := 0
	for o := range r.minio.client.ListObjects(ctx, "large", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			b.Fatal(o.Err)
		}
		listed++
	}
	if listed != n {
		b.Fatalf("listed %d objects, want %d", listed, n)
	}
	listing := time.Since(began)
	time.Sleep(5 * time.Second) // the store settles after the uploads
	alone := cpuOf(b, r.minio.PID())
	time.Sleep(20 * time.Second)
	alone = cpuOf(b, r.minio.PID()) - alone // the store's own idle work, the baseline

	run := r.runWith(r.spec("large", events.StorageSpec{Bucket: "large"}), r.defaults())
	waitLive(b, run)
	time.Sleep(2 * time.Second) // the listing when the stream came up
	self, store := cpuSelf(), cpuOf(b, r.minio.PID())
	time.Sleep(20 * time.Second)
	idleSelf, idleStore := cpuSelf()-self, cpuOf(b, r.minio.PID())-store
	uploadToBus(b, r, "large")
	// After the timed loop: ResetTimer drops metrics reported before it.
	b.ReportMetric(float64(listing.Milliseconds()), "ms/listing")
	b.ReportMetric(idleSelf.Seconds()/20*100, "adapter-idle-cpu-%")
	b.ReportMetric(idleStore.Seconds()/20*100, "minio-idle-cpu-%")
	b.ReportMetric(alone.Seconds()/20*100, "minio-alone-idle-cpu-%")
}

// defaults is the rig's config with the adapter's own intervals.
func (r *rig) defaults() storage.Config {
	c := r.config()
	c.Poll, c.MinBackoff, c.MaxBackoff = 0, 0, 0
	return c
}

func waitLive(b *testing.B, run *running) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for run.last().Detail != "live notifications; listing reconciles" {
		if time.Now().After(deadline) {
			b.Fatalf("not live: %+v", run.last())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// uploadToBus uploads b.N objects one at a time, each waited for on the bus.
func uploadToBus(b *testing.B, r *rig, bucket string) {
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
	base := stored()
	b.ResetTimer()
	for i := range b.N {
		r.minio.put(b, bucket, fmt.Sprint("new-", i), "x")
		for stored() < base+uint64(i+1) {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// fill uploads n small objects with 16 uploaders.
func fill(b *testing.B, r *rig, bucket string, n int) {
	b.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				key := fmt.Sprintf("old/%06d", i)
				if _, err := r.minio.client.PutObject(context.Background(), bucket, key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
					b.Errorf("put %s: %v", key, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf is a process's user and system time from /proc (clock ticks of 10 ms).
func cpuOf(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
