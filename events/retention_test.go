package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sluice.dev/events"
	"sluice.dev/events/bustest"
	"sluice.dev/events/testkit"
)

func TestRetentionLimitsApplyAndStay(t *testing.T) {
	const maxBytes = 64 << 10
	bus := bustest.StartWith(t, events.BusOptions{LogsMaxBytes: maxBytes, MetersMaxAge: time.Second})
	ctx := context.Background()
	line := fmt.Sprintf(`{"function":"f","message":"%0200d"}`, 0)
	for range 2000 { // about 500 KiB: far past the limit
		if _, err := bus.JS.Publish(ctx, events.LogsSubject("f"), []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	logs, err := bus.JS.Stream(ctx, events.StreamLogs)
	if err != nil {
		t.Fatal(err)
	}
	info, err := logs.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > maxBytes || info.State.FirstSeq == 1 || info.State.LastSeq != 2000 {
		t.Fatalf("logs after 2000 lines: %d bytes (max %d), seq %d..%d: the oldest should be gone", info.State.Bytes, maxBytes, info.State.FirstSeq, info.State.LastSeq)
	}

	// Another process that sets no retention keeps what is there.
	if err := events.Ensure(ctx, bus.JS, events.BusOptions{}); err != nil {
		t.Fatal(err)
	}
	info, _ = logs.Info(ctx)
	if info.Config.MaxBytes != maxBytes {
		t.Errorf("logs max bytes after a plain Ensure: %d, want %d", info.Config.MaxBytes, maxBytes)
	}
	meters, _ := bus.JS.Stream(ctx, events.StreamMeters)
	mi, _ := meters.Info(ctx)
	if mi.Config.MaxAge != time.Second {
		t.Errorf("meters max age after a plain Ensure: %s, want 1s", mi.Config.MaxAge)
	}

	// Meters older than their max age go away.
	if _, err := bus.JS.Publish(ctx, events.MetersSubject("f"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		mi, err := meters.Info(ctx)
		if err != nil {
			return err
		}
		if mi.State.Msgs != 0 || mi.State.LastSeq != 1 {
			return fmt.Errorf("meters stream holds %d records (last seq %d)", mi.State.Msgs, mi.State.LastSeq)
		}
		return nil
	})

	// An explicit setting replaces it.
	if err := events.Ensure(ctx, bus.JS, events.BusOptions{LogsMaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	info, _ = logs.Info(ctx)
	if info.Config.MaxBytes != 1<<20 {
		t.Errorf("logs max bytes after setting 1 MiB: %d", info.Config.MaxBytes)
	}
}
