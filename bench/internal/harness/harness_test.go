package harness

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCounter(t *testing.T) {
	c := NewCounter(3)
	c.Add(0, 2)
	c.Add(2, 5)
	atomic.AddUint64(c.Ptr(1), 7)
	if got := c.Sum(); got != 14 {
		t.Fatalf("Sum = %d, want 14", got)
	}
}

func TestMeasure(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		count   func() uint64
		fail    error
		wantErr error
	}{
		{"counts", func() func() uint64 { var n uint64; return func() uint64 { n += 10; return n } }(), nil, nil},
		{"no progress", func() uint64 { return 5 }, nil, ErrNoProgress},
		{"failure ends it", func() uint64 { return 0 }, boom, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed := make(chan error, 1)
			if tt.fail != nil {
				failed <- tt.fail
			}
			s, err := Measure(Window{Warmup: time.Millisecond, Duration: time.Millisecond}, tt.count, failed)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (s.Count != 10 || s.Rate() <= 0) {
				t.Fatalf("sample = %+v, want a count of 10 and a positive rate", s)
			}
		})
	}
}

func TestGroup(t *testing.T) {
	g := NewGroup()
	boom := errors.New("boom")
	g.Go(func() error { return nil })
	g.Go(func() error { return boom })
	if !g.Wait(time.Minute) {
		t.Fatal("group did not end")
	}
	if err := <-g.Failed(); !errors.Is(err, boom) {
		t.Fatalf("Failed = %v, want boom", err)
	}
}
