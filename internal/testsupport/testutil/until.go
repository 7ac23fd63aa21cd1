package testutil

import "time"

// Until waits until cond holds and reports whether it did within
// Patience. It is Eventually for goroutines other than the test's, which
// may not fail the test (t.Fatal ends only the goroutine it is called
// from): the caller says what a false means. It looks every millisecond.
func Until(cond func() bool) bool {
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
