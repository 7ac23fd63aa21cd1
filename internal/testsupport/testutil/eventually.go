package testutil

import (
	"testing"
	"time"
)

// pollEvery is how often WaitFor checks its condition again: the one
// place where the test helpers sleep, to poll state they cannot be told
// about.
const pollEvery = 2 * time.Millisecond

// WaitFor waits until try returns nil, failing the test with try's last
// error if it still does not after Patience. It is Eventually for a
// condition that can say why it does not hold yet (a dial that fails
// until the routes converge): the failure names the last reason.
func WaitFor(t testing.TB, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(pollEvery)
	}
}
