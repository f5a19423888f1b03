package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice.dev/events/testkit"
)

// stampPy prints when it ran each object, in Unix nanoseconds.
const stampPy = `import time
from urllib.parse import unquote_plus


def handler(event, context):
    now = time.time_ns()
    for record in event["Records"]:
        print("ran %s %d" % (unquote_plus(record["s3"]["object"]["key"]), now))
`

// BenchmarkBucketUploadToInvocation measures, through sluice up, how long an upload into a
// bucket of $SLUICE_BENCH_OBJECTS objects (50,000 when unset) takes to run the function: from
// the upload's start to the handler's first line, one upload at a time, 100 ms apart. It
// reports the median and the 99th percentile (ns/op is not a latency here: it holds the pause).
//
//	go test -run '^$' -bench BucketUploadToInvocation -benchtime 100x ./e2e
func BenchmarkBucketUploadToInvocation(b *testing.B) {
	objects := 50000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_OBJECTS")); err == nil && v > 0 {
		objects = v
	}
	m := testkit.StartMinIO(b)
	keys := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range keys {
				m.Put(b, "big", fmt.Sprintf("old/%06d", i), []byte("x"))
			}
		})
	}
	for i := range objects {
		keys <- i
	}
	close(keys)
	wg.Wait()

	s3 := []string{"--s3-endpoint", "http://" + m.Endpoint, "--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey}
	n := newSite(b).start(b, s3...)
	deployInline(b, n, "stamp", stampPy)
	n.ok(b, "trigger", "add", "stamp", "--bucket", "big", "--prefix", "new/", "--id", "big")
	testkit.EventuallyEvery(b, triggerDeadline, 200*time.Millisecond, func() error {
		if out := n.ok(b, "trigger", "list", "stamp", "-o", "json").stdout; !strings.Contains(out, `"detail": "live notifications`) {
			return fmt.Errorf("trigger not live:\n%s", out)
		}
		return nil
	})
	// One upload first, so the function's instance is warm.
	m.Put(b, "big", "new/warm", []byte("x"))
	testkit.EventuallyEvery(b, triggerDeadline, 200*time.Millisecond, func() error {
		if logs := n.ok(b, "logs", "stamp", "--grep", "ran new/warm").stdout; !strings.Contains(logs, "ran new/warm") {
			return fmt.Errorf("no warm-up run")
		}
		return nil
	})

	b.ResetTimer()
	for range b.N {
		m.Put(b, "big", fmt.Sprintf("new/%d", time.Now().UnixNano()), []byte("x"))
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	var lat []time.Duration
	testkit.EventuallyEvery(b, triggerDeadline, time.Second, func() error {
		lat = lat[:0]
		for line := range strings.Lines(n.ok(b, "logs", "stamp", "--since", "30m", "--grep", "ran new/").stdout) {
			var sent, ran int64
			_, rest, _ := strings.Cut(line, "ran new/")
			if _, err := fmt.Sscanf(rest, "%d %d", &sent, &ran); err == nil {
				lat = append(lat, time.Duration(ran-sent))
			}
		}
		if len(lat) < b.N {
			return fmt.Errorf("%d of %d uploads ran", len(lat), b.N)
		}
		return nil
	})
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
