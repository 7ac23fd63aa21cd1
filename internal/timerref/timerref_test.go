package timerref

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"
)

type object struct {
	buf   [1 << 16]byte
	fired atomic.Int32
}

func (o *object) fire() { o.fired.Add(1) }

// TestAfterFunc: the timer calls f with the object, and nothing once the
// Ref is cleared.
func TestAfterFunc(t *testing.T) {
	o := new(object)
	r := New(o)
	done := make(chan struct{})
	AfterFunc(time.Millisecond, r, func(o *object) { o.fire(); close(done) })
	<-done
	r.Clear()
	tm := AfterFunc(0, r, (*object).fire)
	for tm.Stop() { // not fired yet: the scheduler runs due timers
		tm.Reset(0)
		runtime.Gosched()
	}
	fired := make(chan struct{})
	f, _ := Func(0, func() { close(fired) })
	<-fired
	f.Stop()
	if n := o.fired.Load(); n != 1 {
		t.Fatalf("the object fired %d times, want 1", n)
	}
}

// TestStoppedTimerHoldsNothing: a stopped timer stays in the runtime's
// timer heap until its original time, unless the runtime happens to clean
// that heap (here nothing makes it: many live timers on the one P, no
// timer re-armed or added since, no sleep); one made by AfterFunc whose
// Ref is cleared holds the object no more.
func TestStoppedTimerHoldsNothing(t *testing.T) {
	if held(false) {
		t.Fatal("a stopped timer whose Ref is cleared still holds the object")
	}
	t.Logf("a stopped time.AfterFunc still holds its object: %v", held(true))
}

// held stops a timer armed for an hour on a new object, by AfterFunc with
// a Ref it then clears, or by time.AfterFunc if plain, and reports whether
// the object survives a collection.
func held(plain bool) bool {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fillers := make([]*time.Timer, 1000)
	for i := range fillers {
		fillers[i] = time.AfterFunc(time.Hour, func() {})
	}
	defer func() {
		for _, f := range fillers {
			f.Stop()
		}
	}()
	o := new(object)
	w := weak.Make(o)
	if plain {
		time.AfterFunc(2*time.Hour, o.fire).Stop()
	} else {
		r := New(o)
		AfterFunc(2*time.Hour, r, (*object).fire).Stop()
		r.Clear()
	}
	o = nil
	runtime.GC()
	return w.Value() != nil
}
