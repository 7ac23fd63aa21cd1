package bufpool

import "testing"

func TestGetPut(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 64, 100, 8 << 10, 1<<20 + 1, Max} {
		b := Get(n)
		if len(b) != n || cap(b) < n || cap(b) > 2*n+16 {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		b[n-1] = 1
		Put(b[:0]) // the capacity, not the length, says the class
	}
	if b := Get(Max + 1); len(b) != Max+1 {
		t.Fatalf("Get(Max+1): len %d", len(b))
	}
	Put(make([]byte, 100)) // not a class size: dropped
	if Get(0) != nil {
		t.Fatal("Get(0) is not nil")
	}
}

func TestNoAllocs(t *testing.T) {
	Put(Get(64))
	if n := testing.AllocsPerRun(100, func() { Put(Get(64)) }); n > 0.5 {
		t.Errorf("Get and Put: %.1f allocations, want 0", n)
	}
}
