package backtrace

import (
	"testing"

	"github.com/plexusnet/plexus/socket"
)

// TestAsks: ids have the high bit set, skip those still open, and Oldest
// finds the first one asked, across the wrap of the 31 bits that count.
func TestAsks(t *testing.T) {
	for _, start := range []uint32{0, 0x7ffffffd, 0xfffffffd, 12345} {
		var a Asks[int]
		a.Init()
		a.last = start
		var ids []uint32
		for i := range 5 {
			id := a.Add(i)
			if id&socket.EndOfPath == 0 {
				t.Fatalf("id %x without the high bit", id)
			}
			ids = append(ids, id)
		}
		if old, ok := a.Oldest(); !ok || old != ids[0] {
			t.Fatalf("start %x: oldest %x, want %x", start, old, ids[0])
		}
		delete(a.Open, ids[0])
		if old, _ := a.Oldest(); old != ids[1] {
			t.Fatalf("start %x: oldest %x, want %x", start, old, ids[1])
		}
		// An id still open is skipped.
		a.last = ids[2] - 1
		if id := a.Add(9); id == ids[2] || a.Open[ids[2]] != 2 {
			t.Fatalf("Add reused the open id %x", id)
		}
		a.Close()
		if len(a.Open) != 0 || !a.Closed {
			t.Fatal("Close left questions open")
		}
	}
	var a Asks[int]
	a.Init()
	if _, ok := a.Oldest(); ok {
		t.Fatal("an oldest among none")
	}
}
