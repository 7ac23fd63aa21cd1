package mux

import "testing"

// TestChunkQueue: the ring keeps its order across wrap-arounds and growth,
// and keeps its slots when it drains (Stream.trimQueue decides about them).
func TestChunkQueue(t *testing.T) {
	tests := []struct {
		name      string
		pushFirst int // chunks pushed before, and popped amid, the others: head moves
		push      int // chunks pushed and checked
		wantCap   int // capacity once all are popped
	}{
		{"empty start", 0, 5, 8},
		{"wraps", 5, 7, 8},
		{"grows while wrapped", 5, 20, 32},
		{"large", 3, 1000, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q chunkQueue
			for range tc.pushFirst {
				q.push(chunk{off: -1})
			}
			k := min(tc.push, len(q.buf)-q.len()) // fills the ring as it is
			for i := range k {
				q.push(chunk{off: i, cost: 1})
			}
			for range tc.pushFirst {
				q.pop()
			}
			for i := k; i < tc.push; i++ {
				q.push(chunk{off: i, cost: 1})
			}
			if q.len() != tc.push {
				t.Fatalf("len %d, want %d", q.len(), tc.push)
			}
			for i := range tc.push {
				if got := q.at(i).off; got != i {
					t.Fatalf("at(%d) = %d", i, got)
				}
			}
			for i := range tc.push {
				if c := q.front(); c.off != i || c.cost != 1 {
					t.Fatalf("front %d: %+v", i, *c)
				}
				q.pop()
			}
			if q.len() != 0 || len(q.buf) != tc.wantCap {
				t.Fatalf("drained: len %d, capacity %d; want 0, %d", q.len(), len(q.buf), tc.wantCap)
			}
			for _, c := range q.buf {
				if c.b != nil || c.off != 0 || c.cost != 0 {
					t.Fatal("a popped slot still holds its chunk")
				}
			}
		})
	}
}
