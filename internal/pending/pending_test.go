package pending

import (
	"net"
	"testing"
)

// TestSetDropsTheOldest: past a cap, admitting drops the oldest
// pending handshake of the key, then the oldest of all; done reports
// whether a handshake was still pending.
func TestSetDropsTheOldest(t *testing.T) {
	s := &Set{MaxAll: 4, MaxPerKey: 2}
	var dropped []string
	admit := func(key, name string) *Entry {
		return s.Admit(key, func() { dropped = append(dropped, name) })
	}
	a1 := admit("a", "a1")
	a2 := admit("a", "a2")
	a3 := admit("a", "a3") // drops a1, the oldest of a
	if len(dropped) != 1 || dropped[0] != "a1" || s.Done(a1) {
		t.Fatalf("dropped %v", dropped)
	}
	admit("b", "b1")
	admit("", "n1")  // counted in all only
	admit("c", "c1") // 5 in all: drops a2, the oldest of all
	if len(dropped) != 2 || dropped[1] != "a2" || s.Done(a2) {
		t.Fatalf("dropped %v", dropped)
	}
	if s.Len("") != 4 || s.Len("a") != 1 {
		t.Fatalf("%d pending, %d of a", s.Len(""), s.Len("a"))
	}
	if !s.Done(a3) || s.Done(a3) || s.Len("a") != 0 {
		t.Fatal("done")
	}
}

// TestSetIsFair: a flood from one key drops that key's handshakes, not
// the others' however old (past MaxAll: the oldest of the key that has
// the most), and within a key, a flood from one sub-key drops that
// sub-key's (past MaxPerKey: the oldest of the sub-key that has the
// most).
func TestSetIsFair(t *testing.T) {
	s := &Set{MaxAll: 8, MaxPerKey: 4}
	dropped := map[string]int{}
	admit := func(key, sub string) *Entry {
		return s.AdmitSub(key, sub, func() { dropped[key+"/"+sub]++ })
	}
	member := admit("member", "")
	neighbour := admit("relay", "honest")
	for range 1000 { // other addresses, one after the other: 4 each at most
		admit("flood", "")
		admit("flood2", "")
	}
	for range 1000 { // one source behind the relay churns
		admit("relay", "churn")
	}
	if len(dropped) != 3 || dropped["member/"] != 0 || dropped["relay/honest"] != 0 {
		t.Fatalf("dropped %v", dropped)
	}
	if !s.Done(member) || !s.Done(neighbour) {
		t.Fatal("a handshake that was not dropped is not pending")
	}
	// With every sub-key at one, the key's oldest goes.
	s = &Set{MaxPerKey: 2}
	dropped = map[string]int{}
	admit("k", "a")
	admit("k", "b")
	admit("k", "c")
	if dropped["k/a"] != 1 || len(dropped) != 1 {
		t.Fatalf("dropped %v", dropped)
	}
}

// TestSetDropsTheSilentFirst: past a cap, a handshake whose peer was
// heard is dropped only once no silent one is left to drop, so a flood of
// silent connections from as many keys as the cap never drops a peer
// that has spoken.
func TestSetDropsTheSilentFirst(t *testing.T) {
	s := &Set{MaxAll: 8, MaxPerKey: 2}
	dropped := map[string]int{}
	admit := func(key, name string) *Entry {
		return s.Admit(key, func() { dropped[name]++ })
	}
	member := admit("m", "member")
	s.Heard(member)
	for i := range 1000 { // one connection from each of 1,000 addresses
		admit(string(rune('a'+i%500))+string(rune(i)), "flood")
	}
	if dropped["member"] != 0 || dropped["flood"] != 1000-7 {
		t.Fatalf("dropped %v", dropped)
	}
	// Within a key too.
	own := admit("x", "own")
	s.Heard(own)
	for range 10 {
		admit("x", "same address")
	}
	if dropped["own"] != 0 {
		t.Fatalf("dropped %v", dropped)
	}
	// Once every handshake was heard, the oldest of the fattest goes.
	s = &Set{MaxPerKey: 2}
	dropped = map[string]int{}
	a, b := admit("k", "a"), admit("k", "b")
	s.Heard(a)
	s.Heard(b)
	s.Heard(admit("k", "c")) // drops a: nothing silent to drop
	if dropped["a"] != 1 || len(dropped) != 1 {
		t.Fatalf("dropped %v", dropped)
	}
}

func TestSourceKey(t *testing.T) {
	for _, c := range []struct {
		a    net.Addr
		same net.Addr // has the same key as a
		diff net.Addr // has another key
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}, &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 2}, &net.TCPAddr{IP: net.ParseIP("10.0.0.2"), Port: 1}},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1")}, &net.TCPAddr{IP: net.ParseIP("2001:db8::ffff:1")}, &net.TCPAddr{IP: net.ParseIP("2001:db8:0:1::1")}},
	} {
		k := SourceKey(c.a)
		if k == "" || SourceKey(c.same) != k || SourceKey(c.diff) == k {
			t.Errorf("%v: key %q, %v: %q, %v: %q", c.a, k, c.same, SourceKey(c.same), c.diff, SourceKey(c.diff))
		}
	}
	if k := SourceKey(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}); k != "" {
		t.Errorf("a Unix address has the key %q, want none", k)
	}
}
