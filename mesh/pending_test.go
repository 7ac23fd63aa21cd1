package mesh

import "testing"

// TestPendingSetDropsTheOldest: past a cap, admitting drops the oldest
// pending handshake of the key, then the oldest of all; done reports
// whether a handshake was still pending.
func TestPendingSetDropsTheOldest(t *testing.T) {
	s := &pendingSet{maxAll: 4, maxPerKey: 2}
	var dropped []string
	admit := func(key, name string) *pending {
		return s.admit(key, func() { dropped = append(dropped, name) })
	}
	a1 := admit("a", "a1")
	a2 := admit("a", "a2")
	a3 := admit("a", "a3") // drops a1, the oldest of a
	if len(dropped) != 1 || dropped[0] != "a1" || s.done(a1) {
		t.Fatalf("dropped %v", dropped)
	}
	admit("b", "b1")
	admit("", "n1")  // counted in all only
	admit("c", "c1") // 5 in all: drops a2, the oldest of all
	if len(dropped) != 2 || dropped[1] != "a2" || s.done(a2) {
		t.Fatalf("dropped %v", dropped)
	}
	if s.len("") != 4 || s.len("a") != 1 {
		t.Fatalf("%d pending, %d of a", s.len(""), s.len("a"))
	}
	if !s.done(a3) || s.done(a3) || s.len("a") != 0 {
		t.Fatal("done")
	}
}
