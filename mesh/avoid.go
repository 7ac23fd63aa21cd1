package mesh

import (
	"sync"
	"time"
)

// Relays that failed a circuit setup are avoided for a while. Which relay
// of a failed path is to blame cannot be known (a refusal's hop index is
// written by the relay that sends it, and a silent drop says nothing), so
// every relay of the path is: for avoidFirst, doubling up to avoidMax
// while its setups keep failing, and forgotten once a setup through it
// succeeds. A member that links itself to two nodes to become their
// shortest path, and then drops every setup, is thus routed around. The
// table is pure: it takes the time as an input.
const (
	avoidFirst = 30 * time.Second
	avoidMax   = 5 * time.Minute
)

// avoidTable holds the relays this node avoids for new circuits.
type avoidTable struct {
	mu sync.Mutex
	m  map[uint64]avoidEntry
}

// avoidEntry is one relay avoided until until; span is the length of its
// last period.
type avoidEntry struct {
	until time.Time
	span  time.Duration
}

// failed avoids the relays of a path whose setup failed at now: for
// avoidFirst, or twice the last period (at most avoidMax) for a relay
// that failed before and has not succeeded since.
func (t *avoidTable) failed(relays []uint64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[uint64]avoidEntry)
	}
	t.pruneLocked(now)
	for _, id := range relays {
		e := t.m[id]
		switch {
		case e.span == 0:
			e.span = avoidFirst
		case now.Before(e.until):
			continue // already avoided: one failure per period counts
		default:
			e.span = min(2*e.span, avoidMax)
		}
		e.until = now.Add(e.span)
		t.m[id] = e
	}
}

// succeeded forgets the relays of a path whose setup succeeded.
func (t *avoidTable) succeeded(relays []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range relays {
		delete(t.m, id)
	}
}

// avoided reports whether id is avoided at now.
func (t *avoidTable) avoided(id uint64, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	return ok && now.Before(e.until)
}

// pruneLocked forgets the relays whose last period ended more than
// avoidMax ago: their failures no longer repeat. So the table holds at
// most the relays that failed in the last avoidMax + their period.
func (t *avoidTable) pruneLocked(now time.Time) {
	for id, e := range t.m {
		if now.Sub(e.until) > avoidMax {
			delete(t.m, id)
		}
	}
}

// snapshot returns the relays avoided at now.
func (t *avoidTable) snapshot(now time.Time) map[uint64]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	var m map[uint64]bool
	for id, e := range t.m {
		if now.Before(e.until) {
			if m == nil {
				m = make(map[uint64]bool)
			}
			m[id] = true
		}
	}
	return m
}

// count returns the number of relays avoided at now.
func (t *avoidTable) count(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.m {
		if now.Before(e.until) {
			n++
		}
	}
	return n
}

// len returns the number of relays the table holds.
func (t *avoidTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// relaysOf returns the relays of a path: every node but its ends.
func relaysOf(path []uint64) []uint64 {
	if len(path) < 3 {
		return nil
	}
	return path[1 : len(path)-1]
}
