package mesh

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mux"
)

// wantLimit fails unless err is a *LimitError naming limit.
func wantLimit(t *testing.T, err error, limit string) {
	t.Helper()
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("%v, want the limit %s", err, limit)
	}
	t.Log(err)
}

func TestLimitsDefaultsAndChecks(t *testing.T) {
	l, err := Limits{}.normalize()
	if err != nil || l != DefaultLimits {
		t.Fatalf("zero Limits: %+v %v", l, err)
	}
	// SetupTimeout's default stays within a shorter HandshakeTimeout; one
	// given over it is refused.
	if l, err := (Limits{HandshakeTimeout: time.Second}).normalize(); err != nil || l.SetupTimeout != time.Second {
		t.Errorf("a HandshakeTimeout of 1s: SetupTimeout %v, %v", l.SetupTimeout, err)
	}
	for _, bad := range []Limits{{MaxLinks: -1}, {MaxHops: 300}, {MaxRecordSize: 10}, {HandshakeTimeout: -time.Second}, {HandshakeTimeout: time.Second, SetupTimeout: 2 * time.Second}} {
		if _, err := New(WithInsecure(), WithLimits(bad)); err == nil {
			t.Errorf("New with %+v succeeded", bad)
		}
	}
	// Every limit a refusal can name has a wire code and comes back.
	for _, name := range limitNames {
		le := DefaultLimits.limitErr(name)
		if le.Max <= 0 {
			t.Errorf("%s has no default", name)
		}
		back := codeOf(le).err()
		var got *LimitError
		if !errors.As(back, &got) || got.Limit != name {
			t.Errorf("%s does not survive the wire: %v", name, back)
		}
	}
}

// TestSessionConfigs: links and circuits run mux sessions with the mesh's
// bounded defaults; WithLinkConfig and WithCircuitConfig change them, a
// link's keep-alive stays WithKeepAlive's, and a Config mux refuses is
// refused by New with the field's name.
func TestSessionConfigs(t *testing.T) {
	o, err := buildOptions([]Option{WithInsecure()})
	if err != nil {
		t.Fatal(err)
	}
	if o.link.SessionWindow != DefaultLinkSessionWindow || o.link.SendBuffer != DefaultLinkSendBuffer ||
		o.link.KeepAliveTimeout != DefaultKeepAliveTimeout || o.link.WriteTimeout != 10*time.Second {
		t.Errorf("link defaults: %+v", o.link)
	}
	if o.circuit.SessionWindow != DefaultCircuitSessionWindow || o.circuit.SendBuffer != DefaultCircuitSendBuffer {
		t.Errorf("circuit defaults: %+v", o.circuit)
	}
	if !linkCreditFits(&o.limits, &o.link) {
		t.Errorf("one neighbour's circuits may take more than a quarter of a link's window: %+v", o.limits)
	}
	o, err = buildOptions([]Option{
		WithInsecure(),
		WithKeepAlive(time.Second, 5*time.Second),
		WithLinkConfig(&mux.Config{SessionWindow: 16 << 20, KeepAliveTimeout: time.Hour}),
		WithCircuitConfig(&mux.Config{StreamWindow: 1 << 20}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.link.SessionWindow != 16<<20 || o.link.SendBuffer != DefaultLinkSendBuffer || o.link.KeepAliveTimeout != 5*time.Second {
		t.Errorf("link config: %+v", o.link)
	}
	if o.circuit.SessionWindow != 4<<20 { // raised to 4 × StreamWindow
		t.Errorf("circuit config: %+v", o.circuit)
	}
	for _, opt := range []Option{WithLinkConfig(&mux.Config{SessionWindow: 1000}), WithCircuitConfig(&mux.Config{MaxFrameSize: 1})} {
		_, err := New(WithInsecure(), opt)
		if err == nil || !strings.Contains(err.Error(), "Config.") {
			t.Errorf("New with a bad mux Config: %v", err)
		}
		t.Log(err)
	}
	// Links and circuits run with them.
	ns := nodes(t, 3, WithLinkConfig(&mux.Config{SessionWindow: 8 << 20}))
	chain(t, ns)
	ln, _ := ns[2].Listen("", ":1")
	echo(t, ln)
	c, err := ns[0].Dial("", FormatID(ns[2].ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, "configured")
}

func TestMaxLinksPerPeer(t *testing.T) {
	a := newNode(t, WithLimits(Limits{MaxLinksPerPeer: 1}))
	b := newNode(t)
	linked(t, a, b)
	ea, eb := attach(t, a, b).wait()
	wantLimit(t, ea, "MaxLinksPerPeer")
	wantLimit(t, eb, "MaxLinksPerPeer")
	if hopsTo(a, b.ID()) != 1 {
		t.Fatal("the first link went down")
	}
}

func TestMaxLinks(t *testing.T) {
	a := newNode(t, WithLimits(Limits{MaxLinks: 1}))
	b, c := newNode(t), newNode(t)
	linked(t, a, b)
	ea, ec := attach(t, a, c).wait()
	wantLimit(t, ea, "MaxLinks")
	wantLimit(t, ec, "MaxLinks")
}

func TestRelayLimits(t *testing.T) {
	// x1, x2 - relay - y1, y2
	relay := newNode(t, WithLimits(Limits{MaxCircuitsPerPeer: 1, MaxRelayedCircuits: 2}))
	ns := nodes(t, 4)
	x1, x2, y1, y2 := ns[0], ns[1], ns[2], ns[3]
	for _, n := range ns {
		attach(t, n, relay)
	}
	for _, n := range ns {
		for _, m := range ns {
			if n != m {
				waitRoute(t, n, m.ID(), 2)
			}
		}
		ln, _ := n.Listen("", ":1")
		echo(t, ln)
	}
	dial := func(from, to *Node) error {
		c, err := from.Dial("", FormatID(to.ID())+":1")
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(x1, y1); err != nil {
		t.Fatal(err)
	}
	wantLimit(t, dial(x1, y2), "MaxCircuitsPerPeer") // a second circuit from x1
	if err := dial(x2, y1); err != nil {
		t.Fatal(err)
	}
	wantLimit(t, dial(y2, x2), "MaxRelayedCircuits") // a third in all
	// Other traffic is unaffected: the first circuits still carry streams.
	if err := dial(x1, y1); err != nil {
		t.Fatal(err)
	}
}

func TestCircuitsPerHostLimit(t *testing.T) {
	a, r := newNode(t), newNode(t)
	dst := newNode(t, WithLimits(Limits{MaxCircuitsPerHost: 1}))
	chain(t, []*Node{a, r, dst})
	path := []uint64{a.ID(), r.ID(), dst.ID()}
	if err := setupVia(t, a, path); err != nil {
		t.Fatal(err)
	}
	// setupVia closes its circuit; wait until dst has let it go.
	eventually(t, "the first circuit to end", func() bool {
		dst.c.circuits.mu.Lock()
		defer dst.c.circuits.mu.Unlock()
		return dst.c.circuits.ends.total == 0
	})
	ln, _ := dst.Listen("", ":1")
	echo(t, ln)
	c, err := a.Dial("", FormatID(dst.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantLimit(t, setupVia(t, a, path), "MaxCircuitsPerHost")
}

func TestAcceptBacklog(t *testing.T) {
	a := newNode(t)
	// A dial waits for room up to HandshakeTimeout: long enough that the
	// Accept of the last step comes within it on a busy machine.
	const wait = time.Second
	b := newNode(t, WithLimits(Limits{AcceptBacklog: 2, HandshakeTimeout: wait}))
	linked(t, a, b)
	ln, _ := b.Listen("", ":1")
	defer ln.Close()
	addr := FormatID(b.ID()) + ":1"
	for range 2 {
		c, err := a.Dial("", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// The second dial returned at once (the port had accepted on this
	// link): wait until both connections are in the backlog.
	eventually(t, "a full backlog", func() bool { return len(ln.(*listener).q) == 2 })
	// A full backlog: the dial waits for room, then is refused. The port
	// has accepted on this link already, so the dial returns at once and
	// the refusal comes with the first Read; the port is then forgotten,
	// and the next dial waits for its verdict.
	start := time.Now()
	c3, err := a.Dial("", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c3.Read(make([]byte, 1))
	wantLimit(t, err, "AcceptBacklog")
	if d := time.Since(start); d < wait*8/10 {
		t.Fatalf("refused after %v, without waiting for room", d)
	}
	start = time.Now()
	_, err = a.Dial("", addr)
	wantLimit(t, err, "AcceptBacklog")
	if d := time.Since(start); d < wait*8/10 {
		t.Fatalf("refused after %v, without waiting for room", d)
	}
	// An Accept while a dial waits lets it in.
	dialed := make(chan error, 1)
	go func() {
		c, err := a.Dial("", addr)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	eventually(t, "a dial waiting for room", func() bool { return ln.(*listener).waiting.Load() == 1 })
	if c, err := ln.Accept(); err == nil {
		c.Close()
	}
	if err := <-dialed; err != nil {
		t.Fatalf("a dial that waited for an Accept: %v", err)
	}
}

// TestOversizeRecordSkipped: a record over MaxRecordSize is refused and
// skipped; the link and the records after it carry on.
func TestOversizeRecordSkipped(t *testing.T) {
	a := newNode(t, WithLimits(Limits{MaxRecordSize: 2048}))
	b := newNode(t)
	linked(t, a, b)
	big := &linkstate.Record{ID: 0x4242, Seq: 1, Expiry: time.Now().Add(time.Minute).UnixMilli()}
	for i := range 300 {
		big.Neighbours = append(big.Neighbours, uint64(i+1))
	}
	raw, _ := linkstate.EncodeRecord(big, nil)
	sendRaw(t, b, a, big.ID, raw)
	if heldSeq(a, big.ID) != 0 {
		t.Fatal("an oversize record was taken")
	}
	if hopsTo(a, b.ID()) != 1 {
		t.Fatal("the link went down")
	}
}

func TestRemoteRecordWithTooManyServices(t *testing.T) {
	a := newNode(t, WithLimits(Limits{MaxServices: 2}))
	b := newNode(t)
	for _, name := range []string{"s1", "s2", "s3"} {
		ln, _ := b.Listen("", name)
		defer ln.Close()
	}
	linked(t, a, b)
	eventually(t, "a to refuse b's record", func() bool { return a.Stats().RecordsRefused > 0 })
	b.c.rt.mu.Lock()
	raw := b.c.rt.r.Held(b.ID())
	b.c.rt.mu.Unlock()
	_, err := linkstate.DecodeRecord(raw, a.c.lim.MaxServices)
	wantLimit(t, err, "MaxServices")
	if len(a.Services()) != 0 {
		t.Fatal("a record with too many services was taken")
	}
}

// TestRecordRateSlowsAFlood: a neighbour that sends records faster than
// RecordRate (after a burst of MaxRecords) is read more slowly; nothing is
// lost and another link's records pass meanwhile.
func TestRecordRateSlowsAFlood(t *testing.T) {
	x := newNode(t, WithLimits(Limits{RecordRate: 100, MaxRecords: 20}))
	flooder, other := newNode(t), newNode(t)
	linked(t, x, flooder)
	linked(t, x, other)
	l := flooder.c.links.get(x.ID())
	const n = 60 // 20 at once, then 40 at 100 a second: at least 0.4s
	start := time.Now()
	exp := time.Now().Add(time.Minute).UnixMilli()
	for i := range n {
		raw, _ := linkstate.EncodeRecord(&linkstate.Record{ID: uint64(1000 + i), Seq: 1, Expiry: exp}, nil)
		l.out.put(uint64(1000+i), raw)
	}
	// Meanwhile, other's records reach x at once.
	ln, _ := other.Listen("", "quick")
	defer ln.Close()
	eventually(t, "other's service", func() bool { return len(x.Services()) == 1 })
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Logf("note: other's record took %v during the flood", d)
	}
	// The flood is read slowly. The table holds 20 records at most, so
	// the last ones are refused with MaxRecords, but they are read.
	eventually(t, "the flood to be read", func() bool { return heldSeq(x, 1000+n-1) != 0 || time.Since(start) > 2*time.Second })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("%d records read in %v despite RecordRate 100", n, d)
	}
	_ = strings.Contains
}

// TestFullBacklogDoesNotBlockTheSession: dials that wait for room in a
// full backlog wait away from the header workers (as many as
// MaxPendingStreams; beyond, they are refused at once), so other dials on
// the same session go through. (Each held a header worker for as long as
// HandshakeTimeout, and 64 of them stopped the session's accept loop.)
func TestFullBacklogDoesNotBlockTheSession(t *testing.T) {
	a := newNode(t)
	b := newNode(t, WithLimits(Limits{AcceptBacklog: 2, HandshakeTimeout: 30 * time.Second}))
	linked(t, a, b)
	full, _ := b.Listen("", ":1")
	defer full.Close()
	echoLn, _ := b.Listen("", ":2")
	echo(t, echoLn)
	var wg sync.WaitGroup
	for range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := a.DialTimeout("", FormatID(b.ID())+":1", patience)
			if err == nil {
				defer c.Close()
				c.Read(make([]byte, 1)) // a refusal of a dial that did not wait comes here
			}
		}()
	}
	eventually(t, "dials to wait for room", func() bool {
		return len(full.(*listener).q) == 2 && b.c.links.get(a.ID()).sess.Stats().ClassStreams >= 66
	})
	c, err := a.DialTimeout("", FormatID(b.ID())+":2", 5*time.Second)
	if err != nil {
		t.Fatalf("a dial to another port of the session: %v", err)
	}
	roundTrip(t, c, "hello")
	c.Close()
	full.Close() // refuses the waiting dials
	wg.Wait()
}

// TestCircuitsPerHostLimitSecured: on a secured mesh the destination
// counts a circuit once end-to-end TLS has proved its source, and refuses
// one over the limit inside TLS, naming the limit: the source's inner
// session, which reads that verdict first, ends with the refusal.
func TestCircuitsPerHostLimitSecured(t *testing.T) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 3, WithLimits(Limits{MaxCircuitsPerHost: 1}))
	chain(t, ns)
	a, dst := ns[0], ns[2]
	ln, _ := dst.Listen("", ":1")
	echo(t, ln)
	c, err := a.Dial("", FormatID(dst.ID())+":1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ci, err := a.c.openCircuit(ctx, a.c.path(dst.ID()))
	if err == nil {
		<-ci.sess.Done()
		a.c.untrack(ci.h)
		if rf := verdictOf(ci.sess); rf != nil {
			err = rf
		}
	}
	wantLimit(t, err, "MaxCircuitsPerHost")
}

// TestBurstOfDialsWaits: a burst of dials to a listener that accepts
// slowly fills its backlog and the session's waiting slots; the dials
// beyond wait (the header readers wait, then mux holds the opens) rather
// than be refused, and every connection is accepted in the end.
func TestBurstOfDialsWaits(t *testing.T) {
	lim := Limits{AcceptBacklog: 4, MaxPendingStreams: 4}
	a, b := newNode(t, WithLimits(lim)), newNode(t, WithLimits(lim))
	linked(t, a, b)
	ln, err := b.Listen("", "svc")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "svc", func() bool { return len(a.Services()) == 1 })
	const n = 100
	got := make(chan error, n)
	accept := func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				got <- err
				return
			}
			_, err = io.ReadAll(c)
			c.Close()
			got <- err
		}
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := a.DialContext(ctxT(t), "", "svc")
			if err != nil {
				t.Error(err)
				return
			}
			c.Write([]byte("x"))
			c.Close()
		}()
	}
	// The listener accepts once the backlog is full and a dial waits for
	// room: a server slower than the burst.
	eventually(t, "a full backlog and a dial waiting for room", func() bool { return ln.(*listener).waiting.Load() > 0 })
	go accept()
	wg.Wait()
	for i := range n {
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
		case <-time.After(patience):
			t.Fatalf("%d of %d connections accepted: the others were refused", i, n)
		}
	}
}

// TestConnectionsBoundedApartFromCircuits: connections to a neighbour and
// the link's other streams (control, circuit setups and hops) are bounded
// apart (the link session's ClassMaxStreams and MaxStreams), so that
// connections up to their bound leave circuits through the same link
// their streams, and circuits up to theirs leave connections theirs.
func TestConnectionsBoundedApartFromCircuits(t *testing.T) {
	t.Run("connections full", func(t *testing.T) {
		ns := nodes(t, 3, WithLinkConfig(&mux.Config{ClassMaxStreams: 4}))
		a, b, c := ns[0], ns[1], ns[2]
		chain(t, ns)
		held, _ := b.Listen("", ":9")
		echo(t, held)
		for i := range 4 {
			conn, err := a.DialTimeout("", FormatID(b.ID())+":9", patience)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			defer conn.Close()
			roundTrip(t, conn, "held")
		}
		if st := a.c.links.get(b.ID()).sess.Stats(); st.ClassStreams != 4 {
			t.Fatalf("%d connections on the link, want 4", st.ClassStreams)
		}
		if conn, err := a.DialTimeout("", FormatID(b.ID())+":9", patience); err == nil {
			conn.Close()
			t.Fatal("a fifth connection beyond ClassMaxStreams 4")
		}
		far, _ := c.Listen("", ":1")
		echo(t, far)
		conn, err := a.DialTimeout("", FormatID(c.ID())+":1", patience)
		if err != nil {
			t.Fatalf("a circuit through the link whose connections are at their bound: %v", err)
		}
		defer conn.Close()
		roundTrip(t, conn, "through b")
	})
	t.Run("circuits full", func(t *testing.T) {
		// The control stream and one circuit hop: no room for another
		// circuit setup on the link, and connections still open.
		ns := nodes(t, 3, WithLinkConfig(&mux.Config{MaxStreams: 2}))
		a, b, c := ns[0], ns[1], ns[2]
		chain(t, ns)
		far, _ := c.Listen("", ":1")
		echo(t, far)
		conn, err := a.DialTimeout("", FormatID(c.ID())+":1", patience)
		if err != nil {
			t.Fatalf("the circuit: %v", err)
		}
		defer conn.Close()
		roundTrip(t, conn, "through b")
		if st := a.c.links.get(b.ID()).sess.Stats(); st.Streams-st.ClassStreams != 2 {
			t.Fatalf("%d streams but connections on the link, want its MaxStreams, 2", st.Streams-st.ClassStreams)
		}
		near, _ := b.Listen("", ":2")
		echo(t, near)
		for i := range 8 {
			conn, err := a.DialTimeout("", FormatID(b.ID())+":2", patience)
			if err != nil {
				t.Fatalf("connection %d while the link's other streams are at their bound: %v", i, err)
			}
			defer conn.Close()
			roundTrip(t, conn, "near")
		}
	})
}
