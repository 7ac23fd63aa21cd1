package testutil

import (
	"testing"
	"time"
)

// SockPoll waits until cond holds, looking every poll, failing the test
// if it still does not after Patience. It is Eventually with the pace
// given: a benchmark that waits for its last messages looks often, so
// that the wait adds little to what it measures.
func SockPoll(t testing.TB, what string, poll time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(poll)
	}
}
