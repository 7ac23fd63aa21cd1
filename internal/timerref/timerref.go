// Package timerref lets a timer's callback reach the object it acts on
// through a reference that is cleared when the timer stops for good.
//
// The runtime keeps a stopped timer in its timer heap, callback and all,
// as a "zombie" until it would have fired, or until it happens to clean
// that heap (runtime/time.go); so a timer armed for 30 s, or an hour, and
// stopped at Close kept whatever its closure reached (a session and its
// buffers, a node) alive for that long. A closure that holds a Ref
// instead, cleared at Close, leaves a zombie that holds only the Ref.
//
// The object must not be reached by the closure otherwise: f in
// AfterFunc is a function of its argument (a method expression such as
// (*Session).checkHealth), and the Ref is allocated apart from the
// object (a Ref that is a field of the object is an interior pointer to
// it).
package timerref

import (
	"sync/atomic"
	"time"
)

// Ref is a reference to a *T that can be cleared. Its zero value is
// cleared.
type Ref[T any] struct{ p atomic.Pointer[T] }

// New returns a Ref to v.
func New[T any](v *T) *Ref[T] {
	r := new(Ref[T])
	r.p.Store(v)
	return r
}

// Get returns the object, nil once cleared.
func (r *Ref[T]) Get() *T { return r.p.Load() }

// Set makes r refer to v.
func (r *Ref[T]) Set(v *T) { r.p.Store(v) }

// Clear drops the object: the timers that hold r call nothing more and
// keep it alive no longer.
func (r *Ref[T]) Clear() { r.p.Store(nil) }

// AfterFunc is time.AfterFunc(d, func() { f(v) }) for the object v that r
// refers to when the timer fires; once r is cleared the timer calls f no
// more and holds only r. f must not hold v itself.
func AfterFunc[T any](d time.Duration, r *Ref[T], f func(*T)) *time.Timer {
	return time.AfterFunc(d, func() {
		if v := r.Get(); v != nil {
			f(v)
		}
	})
}

// Func is time.AfterFunc(d, f), except that the timer reaches f through
// the Ref it returns: once that is cleared, the timer calls f no more and
// holds neither f nor what f holds. It suits a closure that needs several
// objects; each call allocates the Ref and a variable for f besides the
// timer.
func Func(d time.Duration, f func()) (*time.Timer, *Ref[func()]) {
	r := New(&f)
	return AfterFunc(d, r, func(f *func()) { (*f)() }), r
}
