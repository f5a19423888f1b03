package storage

import (
	"testing"
	"time"
)

// A live notification of an upload already published (by a listing, or a notification sent
// twice) is a repeat; the same content uploaded again after the duplicate window is a new event.
func TestRepeats(t *testing.T) {
	mod := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	st := state{Recent: seenIDs{}}
	up := listed("b", "k", "etag1", "", 5, mod)
	if st.repeats(up) {
		t.Fatal("an object never published is a repeat")
	}
	st.seen(up.id(), mod, true)
	live := up
	live.time = mod.Add(40 * time.Millisecond) // the notification's time, not the listing's
	if !st.repeats(live) {
		t.Fatal("the notification of an upload a listing published is not a repeat")
	}
	again := up
	again.time = mod.Add(10 * time.Minute)
	if st.repeats(again) {
		t.Fatal("the same content uploaded again ten minutes later is a repeat")
	}
	other := listed("b", "k", "etag2", "", 5, mod)
	if st.repeats(other) {
		t.Fatal("new content under the same key is a repeat")
	}
}
