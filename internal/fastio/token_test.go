package fastio

import (
	"testing"
	"time"
)

// TestReleaseIdle: a leader that releases the token while a follower or
// a waiter (Wait) waits starts the short grace period; with neither, or
// once they stopped waiting, the long one. A short grace period brings forward a
// timer armed for a long one, and the background reader takes the token
// once it is over.
func TestReleaseIdle(t *testing.T) {
	const short, long = 20 * time.Millisecond, time.Hour
	tests := []struct {
		name      string
		followers int // Follow calls that fail while the leader leads
		waits     int // Wait calls (a writer waiting for credit, say)
		unfollow  int // of them all, Unfollow calls before the release
		wantShort bool
	}{
		{"no follower", 0, 0, 0, false},
		{"a follower", 1, 0, 0, true},
		{"two followers, one gone", 2, 0, 1, true},
		{"the follower gone", 1, 0, 1, false},
		{"a waiter", 0, 1, 0, true},
		{"the waiter gone", 0, 1, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tok Token
			tok.Init(nil, nil)
			defer tok.End(nil)
			if !tok.TryLead("leader") {
				t.Fatal("TryLead on an idle token failed")
			}
			for i := range tc.followers {
				if tok.Follow(i) {
					t.Fatal("Follow led while another led")
				}
			}
			for range tc.waits {
				tok.Wait()
			}
			for range tc.unfollow {
				tok.Unfollow()
			}
			before := time.Now().UnixNano()
			tok.ReleaseIdle(short, long)
			tok.mu.Lock()
			grace := time.Duration(tok.until - before)
			tok.mu.Unlock()
			if isShort := grace < long/2; isShort != tc.wantShort {
				t.Fatalf("grace period %v, want the short one: %v", grace, tc.wantShort)
			}
			if !tok.Follow("next") { // a follower that finds it idle leads
				t.Fatal("Follow did not lead an idle token")
			}
		})
	}
}

// TestShortGraceBroughtForward: a short grace period after a long one
// ends when it should: the timer armed for the long one is brought
// forward, and the background reader takes the token.
func TestShortGraceBroughtForward(t *testing.T) {
	var tok Token
	tok.Init(nil, nil)
	defer tok.End(nil)
	tok.TryLead("a")
	tok.ReleaseIdle(time.Millisecond, time.Hour) // nobody follows: an hour
	tok.TryLead("a")
	tok.Follow("b")
	tok.ReleaseIdle(time.Millisecond, time.Hour) // b follows: a millisecond
	took := make(chan bool, 1)
	go func() { took <- tok.Take(nil) }()
	select {
	case <-took:
	case <-time.After(time.Minute): // far beyond the millisecond, far below the hour
		t.Fatal("the background reader did not take the token after the short grace period")
	}
	tok.Release(0)
}
