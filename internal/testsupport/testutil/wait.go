package testutil

import (
	"testing"
	"time"
)

// The waits of the tests: each polls a condition until it holds or
// Patience runs out. Polling is the one place where the test helpers
// sleep, to look again at state they cannot be told about.

// pollEvery is how often the waits look again, unless told otherwise.
const pollEvery = 2 * time.Millisecond

// poll reports whether cond held within Patience, looking every d.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(d)
	}
	return true
}

// Eventually waits until cond holds, failing the test if it still does
// not after Patience.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(pollEvery, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// EventuallyEvery is Eventually looking every d: a benchmark that waits
// for its last messages looks often, so that the wait adds little to what
// it measures.
func EventuallyEvery(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// WaitFor waits until try returns nil, failing the test with try's last
// error if it still does not after Patience: Eventually for a condition
// that can say why it does not hold yet (a dial that fails until the
// routes converge).
func WaitFor(t testing.TB, what string, try func() error) {
	t.Helper()
	var err error
	if !poll(pollEvery, func() bool { err = try(); return err == nil }) {
		t.Fatalf("timed out waiting for %s: %v", what, err)
	}
}

// Until waits until cond holds and reports whether it did within
// Patience: Eventually for goroutines other than the test's, which may
// not fail the test (t.Fatal ends only the goroutine it is called from),
// so the caller says what a false means. It looks every millisecond.
func Until(cond func() bool) bool { return poll(time.Millisecond, cond) }
