package fastio

import (
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
)

// Token is the right to read one connection. At most one goroutine reads
// it: the owner's background reader goroutine, or a leader, a caller
// blocked waiting for data that reads the connection itself, so that the
// network poller wakes it directly when data arrives, without a hand-off
// from the background reader (a cross-CPU wake-up, which costs more than
// the rest of a round trip).
//
// A caller that finds nothing to read leads if the token is idle (TryLead).
// When the background reader has just handed data to a waiting caller, or
// a leader has its data, the token stays idle for a grace period (Release
// with a grace) instead of going back to the background reader at once: a
// request-response caller is back by then and leads. When the grace period
// passes with nobody leading, the background reader takes the token again
// (Take), so data never waits longer than that.
//
// A caller that waits for data while another holds the token is a
// follower (Follow, then Unfollow once it is done waiting): it depends on
// whoever reads next. ReleaseIdle picks the grace period by that: the
// short one while followers wait, a longer one when nobody does, so that
// the grace timer of a request-response caller, who is back long before
// either ends, fires seldom (each firing starts a goroutine and may wake
// a thread). Callers that wait without following end a grace period
// themselves and are counted too (Wait).
//
// How a leader is interrupted (a read deadline in the past, say) is the
// owner's business: the hooks given to Init and the functions given to
// IfLeading and End run under the token's lock, so that they never race
// with a change of holder.
type Token struct {
	mu      sync.Mutex
	state   uint8
	leader  any
	until   int64 // unix nanoseconds a grace period ends; 0: none
	armed   bool  // the grace timer will fire
	armedAt int64 // unix nanoseconds it fires, if armed
	follow  int   // followers waiting (Follow without Unfollow)
	ended   bool
	timer   *time.Timer
	self    *timerref.Ref[Token] // the token as its timer reaches it; End clears it
	wake    chan struct{}        // the background reader waits on it
	onTake  func()
	onLead  func(leader any)
}

// Token states.
const (
	idle = iota
	background
	leading
)

// Init readies the token. onTake, if not nil, runs when the background
// reader takes the token; onLead, if not nil, when a leader does; both
// under the token's lock.
func (t *Token) Init(onTake func(), onLead func(leader any)) {
	t.wake = make(chan struct{}, 1)
	t.onTake, t.onLead = onTake, onLead
	// The timer reaches the token through a Ref that End clears: a Token
	// is a field of its owner, and a stopped timer, which the runtime
	// keeps until its original time, must not keep the owner alive.
	t.self = timerref.New(t)
	t.timer = timerref.AfterFunc(time.Hour, t.self, (*Token).graceOver)
	t.timer.Stop()
}

// Take waits until the background reader may read: the token is idle and
// no grace period runs. It returns false if stop is closed first. After
// End it waits only for the token to be idle.
func (t *Token) Take(stop <-chan struct{}) bool {
	t.mu.Lock()
	for t.state != idle || (!t.ended && t.until != 0 && time.Now().UnixNano() < t.until) {
		t.mu.Unlock()
		select {
		case <-t.wake:
		case <-stop:
			return false
		}
		t.mu.Lock()
	}
	t.state = background
	t.until = 0
	if t.onTake != nil {
		t.onTake()
	}
	t.mu.Unlock()
	return true
}

// Release gives the token up. A positive grace starts a grace period, in
// which a leader may take the token and the background reader does not.
func (t *Token) Release(grace time.Duration) {
	t.mu.Lock()
	t.release(grace)
	t.mu.Unlock()
}

// ReleaseIdle is Release with a grace period of grace if a follower waits,
// else of idle (at least grace): a follower must not wait long for a read
// that nobody comes back to lead.
func (t *Token) ReleaseIdle(grace, idle time.Duration) {
	t.mu.Lock()
	if t.follow == 0 && grace > 0 {
		grace = max(grace, idle)
	}
	t.release(grace)
	t.mu.Unlock()
}

// release is Release; t.mu is held.
func (t *Token) release(grace time.Duration) {
	t.state = idle
	t.leader = nil
	if grace > 0 && !t.ended {
		t.until = time.Now().UnixNano() + int64(grace)
		// An armed timer re-arms itself for what is left; one armed to fire
		// after this grace period is brought forward.
		if !t.armed || t.armedAt > t.until {
			t.armed = true
			t.armedAt = t.until
			t.timer.Reset(grace)
		}
	} else {
		t.until = 0
		signal(t.wake)
	}
}

// graceOver is the grace timer: nobody came to lead, so the background
// reader reads again.
func (t *Token) graceOver() {
	t.mu.Lock()
	t.armed = false
	if t.state == idle && t.until != 0 {
		if left := t.until - time.Now().UnixNano(); left > 0 && !t.ended {
			t.armed = true // the grace period was extended
			t.armedAt = t.until
			t.timer.Reset(time.Duration(left))
		} else {
			t.until = 0
			signal(t.wake)
		}
	}
	t.mu.Unlock()
}

// EndGrace ends a grace period at once: the background reader should read
// now.
func (t *Token) EndGrace() {
	t.mu.Lock()
	if t.state == idle && t.until != 0 {
		t.until = 0
		signal(t.wake)
	}
	t.mu.Unlock()
}

// TryLead makes leader the holder if the token is idle, even within a
// grace period, and reports whether it did.
func (t *Token) TryLead(leader any) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lead(leader)
}

// Follow is TryLead for a caller that waits for data: if the token is
// held, it counts the caller as a follower until it calls Unfollow, which
// it must do once it stops waiting (see ReleaseIdle).
func (t *Token) Follow(leader any) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.lead(leader) {
		t.follow++
		return false
	}
	return true
}

// lead is TryLead; t.mu is held.
func (t *Token) lead(leader any) bool {
	if t.state != idle || t.ended {
		return false
	}
	t.state = leading
	t.leader = leader
	if t.onLead != nil {
		t.onLead(leader)
	}
	return true
}

// Wait is EndGrace for a caller about to wait for what only a read brings
// without leading: it ends a grace period at once, and counts the caller
// as a follower until it calls Unfollow, so that a holder that releases
// the token meanwhile starts the short grace period (see ReleaseIdle).
func (t *Token) Wait() {
	t.mu.Lock()
	t.follow++
	if t.state == idle && t.until != 0 {
		t.until = 0
		signal(t.wake)
	}
	t.mu.Unlock()
}

// Unfollow ends a wait that Follow or Wait counted.
func (t *Token) Unfollow() {
	t.mu.Lock()
	t.follow--
	t.mu.Unlock()
}

// IfLeading runs f under the token's lock if leader holds the token.
func (t *Token) IfLeading(leader any, f func()) {
	t.mu.Lock()
	if t.state == leading && t.leader == leader {
		f()
	}
	t.mu.Unlock()
}

// End stops leading and grace periods for good: no new leader, Take no
// longer waits for a grace period, and interrupt, if not nil, runs (under
// the token's lock) if a leader holds the token, to make it give it back.
func (t *Token) End(interrupt func()) {
	t.mu.Lock()
	t.ended = true
	t.timer.Stop()
	t.self.Clear()
	t.armed = false
	if t.state == leading && interrupt != nil {
		interrupt()
	}
	signal(t.wake)
	t.mu.Unlock()
}

// signal wakes the waiter of ch, a channel with a buffer of one, without
// blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
