package mux

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The flow-control policy of flow.go, driven alone: no session, no
// connection, no clock but the one the tests pass in.

// testFlow returns the flow of a session with the given windows.
func testFlow(t *testing.T, streamWindow, sessionWindow uint32) *sessionFlow {
	t.Helper()
	c, err := (&Config{StreamWindow: streamWindow, SessionWindow: sessionWindow}).normalize()
	if err != nil {
		t.Fatal(err)
	}
	f := new(sessionFlow)
	f.init(&c)
	return f
}

// readQuarter has the peer send a quarter of sf's window and the reader
// consume it, took after the last update; it returns the WINDOW increment.
func readQuarter(t *testing.T, f *sessionFlow, sf *streamFlow, took time.Duration, now *int64) uint32 {
	t.Helper()
	q := sf.window / 4
	if !sf.received(q) {
		t.Fatalf("a quarter of the window (%d) exceeds the credit %d", q, sf.recv)
	}
	sf.unacked += q
	*now += int64(took)
	inc := sf.resize(f, *now)
	sf.recv += inc
	return inc
}

func TestFlowStreamGrowsWhenReadFast(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	sf := f.newStream(minStreamWindow)
	var now int64
	for sf.window < f.maxWindow {
		before := sf.window
		inc := readQuarter(t, f, &sf, time.Microsecond, &now)
		if sf.window != 2*before {
			t.Fatalf("a fast reader's window went from %d to %d, want %d", before, sf.window, 2*before)
		}
		if want := before/4 + before; inc != want {
			t.Fatalf("increment %d, want the quarter consumed plus the growth: %d", inc, want)
		}
	}
	if sf.window != f.maxWindow {
		t.Fatalf("window %d, want the cap %d", sf.window, f.maxWindow)
	}
	readQuarter(t, f, &sf, time.Microsecond, &now)
	if sf.window != f.maxWindow {
		t.Fatalf("window grew past the cap: %d", sf.window)
	}
	if got := f.windows.Load(); got != int64(sf.window) {
		t.Fatalf("windows %d, want the stream's %d", got, sf.window)
	}
}

func TestFlowStreamGrowsWhenCreditRunsLow(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	sf := f.newStream(minStreamWindow)
	now := int64(0)
	// The peer has used more than half of its credit by the time the reader
	// consumed a quarter, however slowly: the window limits the stream.
	if !sf.received(sf.window * 3 / 4) {
		t.Fatal("credit")
	}
	sf.unacked += sf.window / 4
	now += int64(time.Second)
	before := sf.window
	sf.resize(f, now)
	if sf.window != 2*before {
		t.Fatalf("window %d, want %d", sf.window, 2*before)
	}
}

func TestFlowStreamShrinksWhenIdle(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	sf := f.newStream(minStreamWindow)
	var now int64
	for range 3 {
		readQuarter(t, f, &sf, time.Microsecond, &now)
	}
	grown := sf.window
	// Slow reads while the peer leaves most of its credit unused: the
	// window halves, giving back at most half of what was consumed.
	inc := readQuarter(t, f, &sf, time.Second, &now)
	if sf.window >= grown || sf.window < grown/2 {
		t.Fatalf("window %d after a slow quarter, want less than %d and at least %d", sf.window, grown, grown/2)
	}
	if consumed := grown / 4; inc < consumed/2 {
		t.Fatalf("increment %d: the shrink took more than half of the %d consumed", inc, consumed)
	}
	for range 20 {
		readQuarter(t, f, &sf, time.Second, &now)
	}
	if sf.window != f.streamWindow {
		t.Fatalf("window %d, want it back at the initial %d", sf.window, f.streamWindow)
	}
	if got := f.windows.Load(); got != int64(sf.window) {
		t.Fatalf("windows %d, want the stream's %d", got, sf.window)
	}
}

// TestFlowBudget: windows grow only within half the session window, and
// a grown window shrinks while the session is over budget.
func TestFlowBudget(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	var now int64
	streams := make([]streamFlow, 8)
	for i := range streams {
		streams[i] = f.newStream(minStreamWindow)
	}
	for i := range streams {
		for range 20 {
			readQuarter(t, f, &streams[i], time.Microsecond, &now)
		}
	}
	if got := f.windows.Load(); got > f.budget || got < f.budget-int64(f.maxWindow) {
		t.Fatalf("windows %d, want the budget %d used up, and no more", got, f.budget)
	}
	// Streams opened meanwhile take the session over budget: a grown
	// window shrinks as its reader consumes, fast or not.
	for range 64 {
		f.newStream(minStreamWindow)
	}
	sf := &streams[0]
	before := sf.window
	readQuarter(t, f, sf, time.Microsecond, &now)
	if sf.window >= before {
		t.Fatalf("over budget, a fast stream's window went from %d to %d", before, sf.window)
	}
	if got := f.takeBudget(1 << 20); got != 0 {
		t.Fatalf("over budget, takeBudget gave %d", got)
	}
}

// TestFlowLeaveOnce: a window leaves the budget once, however many ways
// the stream ends (Close after its removal used to take it twice).
func TestFlowLeaveOnce(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	a, b := f.newStream(minStreamWindow), f.newStream(minStreamWindow)
	a.leave(f)
	a.leave(f)
	if got := f.windows.Load(); got != int64(b.window) {
		t.Fatalf("windows %d after one stream left twice, want %d", got, b.window)
	}
}

// TestFlowSessionCredit: consumed credit goes back in batches of an
// eighth of the session window, or of a sixty-fourth once the peer holds
// less than half; the peer may not send past the window.
func TestFlowSessionCredit(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	w := f.window
	if err := f.charge(w / 4); err != nil {
		t.Fatal(err)
	}
	if inc := f.freed(w/8 - 1); inc != 0 {
		t.Fatalf("freed %d before a batch was full", inc)
	}
	if inc := f.freed(1); inc != w/8 {
		t.Fatalf("freed %d, want the batch %d", inc, w/8)
	}
	if err := f.charge(w/2 + w/8); err != nil { // the peer now holds less than half
		t.Fatal(err)
	}
	if inc := f.freed(w / 64); inc != w/64 {
		t.Fatalf("freed %d with little credit left, want the small batch %d", inc, w/64)
	}
	if err := f.charge(w); err == nil {
		t.Fatal("the peer sent past the session window unnoticed")
	}
}

func TestFlowStreamCredit(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	sf := f.newStream(minStreamWindow)
	if sf.received(sf.recv + 1) {
		t.Fatal("a frame over the stream's credit was accepted")
	}
	if !sf.received(sf.recv) {
		t.Fatal("a frame of all the stream's credit was refused")
	}
	// The quarter is not consumed yet: no WINDOW.
	if inc := sf.consumed(f, sf.window/4-1); inc != 0 {
		t.Fatalf("WINDOW of %d before a quarter was consumed", inc)
	}
	if inc := sf.consumed(f, 1); inc < sf.window/8 || sf.recv != inc {
		t.Fatalf("WINDOW of %d once a quarter was consumed (credit %d)", inc, sf.recv)
	}
}

// TestFlowSpend: a DATA frame takes what both the stream's and the
// session's credit allow; a message that does not fit is split, its end
// only on the frame that carries it.
func TestFlowSpend(t *testing.T) {
	f := testFlow(t, DefaultStreamWindow, DefaultSessionWindow)
	sf := f.newStream(1000)
	if !sf.canSend(f) {
		t.Fatal("a new stream cannot send")
	}
	n, flags, ok, _ := sf.spend(f, 500, true)
	if !ok || n != 500 || flags != flagEOM || sf.send != 1000-500-frameOverhead {
		t.Fatalf("spend(500, end) = %d %#x %v, credit left %d", n, flags, ok, sf.send)
	}
	left := int(sf.send)
	n, flags, ok, _ = sf.spend(f, 10000, true)
	if !ok || n != left-frameOverhead || flags != 0 || sf.send != 0 {
		t.Fatalf("spend past the stream's credit = %d %#x %v, credit left %d; want %d bytes, no EOM", n, flags, ok, sf.send, left-frameOverhead)
	}
	if _, _, ok, sessionBound := sf.spend(f, 1, false); ok || sessionBound {
		t.Fatalf("spend without stream credit: ok %v, sessionBound %v", ok, sessionBound)
	}
	if sf.canSend(f) {
		t.Fatal("canSend without credit")
	}
	if !sf.granted(1 << 20) {
		t.Fatal("grant refused")
	}
	f.send = frameOverhead // the session's credit runs out
	if _, _, ok, sessionBound := sf.spend(f, 1, false); ok || !sessionBound {
		t.Fatalf("spend without session credit: ok %v, sessionBound %v", ok, sessionBound)
	}
	if sf.granted(maxWindow) {
		t.Fatal("a grant past maxWindow was taken")
	}
	if f.grant(maxWindow) {
		t.Fatal("a session grant past maxWindow was taken")
	}
	// An empty message costs the overhead alone.
	f.send = 1 << 20
	if n, flags, ok, _ := sf.spend(f, 0, true); !ok || n != 0 || flags != flagEOM {
		t.Fatalf("spend of an empty message = %d %#x %v", n, flags, ok)
	}
}

// testClassFlow returns the flow of a session, and of its class, with the
// given windows.
func testClassFlow(t *testing.T, streamWindow, sessionWindow, classWindow uint32) (f, cf *sessionFlow) {
	t.Helper()
	c, err := (&Config{StreamWindow: streamWindow, SessionWindow: sessionWindow, ClassWindow: classWindow}).normalize()
	if err != nil {
		t.Fatal(err)
	}
	f, cf = new(sessionFlow), new(sessionFlow)
	f.init(&c)
	cf.initClass(&c)
	return f, cf
}

func TestFlowClassApart(t *testing.T) {
	f, cf := testClassFlow(t, minStreamWindow, DefaultSessionWindow, 1<<20)
	if cf.window != 1<<20 || cf.budget != 1<<19 || cf.maxWindow != 1<<18 || cf.send != 0 {
		t.Fatalf("class flow: window %d budget %d maxWindow %d send %d; want 1 MiB, 512 KiB, 256 KiB, 0 (no credit before the peer's preface)",
			cf.window, cf.budget, cf.maxWindow, cf.send)
	}
	// The class's streams take their windows from the class's budget.
	sf := cf.newStream(minStreamWindow)
	if cf.windows.Load() != minStreamWindow || f.windows.Load() != 0 {
		t.Fatalf("a class stream charged windows %d to the class and %d to the session", cf.windows.Load(), f.windows.Load())
	}
	// The class's credit fills, the session's is untouched.
	if err := cf.charge(1 << 20); err != nil {
		t.Fatalf("charging the whole class window: %v", err)
	}
	if f.used.Load() != 0 {
		t.Fatalf("the session's credit used %d by class data", f.used.Load())
	}
	err := cf.charge(1)
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "class window") {
		t.Fatalf("a byte beyond the class window: %v, want a protocol error naming the class window", err)
	}
	if err := f.charge(DefaultSessionWindow); err != nil {
		t.Fatalf("the session's whole window while the class is full: %v", err)
	}
	// Credit freed in the class goes back in the class's batches.
	cf.used.Store(1 << 20)
	if inc := cf.freed(1<<20/64 - 1); inc != 0 {
		t.Fatalf("freed %d before a batch", inc)
	}
	if inc := cf.freed(1); inc != 1<<20/64 {
		t.Fatalf("freed %d, want the class's small batch %d", inc, 1<<20/64)
	}
	// A grown class stream stays within the class's budget.
	var now int64
	for range 8 {
		readQuarter(t, cf, &sf, time.Microsecond, &now)
	}
	if sf.window != cf.maxWindow || f.windows.Load() != 0 {
		t.Fatalf("class stream window %d (want %d), session windows %d (want 0)", sf.window, cf.maxWindow, f.windows.Load())
	}
	sf.leave(cf)
	if cf.windows.Load() != 0 {
		t.Fatalf("class windows %d after the stream left", cf.windows.Load())
	}
}
