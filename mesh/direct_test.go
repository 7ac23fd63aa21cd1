package mesh

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// tcpNode starts a node that accepts links on a loopback TCP listener of
// its own, and advertises it when advertise is set; extra addresses to
// advertise (before its own) come in more.
func tcpNode(t *testing.T, advertise bool, more []string, opts ...Option) (*Node, string) {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if advertise || len(more) > 0 {
		adv := append([]string(nil), more...)
		if advertise {
			adv = append(adv, addr)
		}
		opts = append(opts, WithAdvertise(adv...))
	}
	n := newNode(t, opts...)
	if err := n.Serve(ln); err != nil {
		t.Fatal(err)
	}
	return n, addr
}

// join makes n keep a link to the node at addr.
func join(t *testing.T, n *Node, addr string) {
	t.Helper()
	if err := n.Join("tcp", addr); err != nil {
		t.Fatal(err)
	}
}

// linkTo returns n's live link to peer, described, and whether it has one.
func linkTo(n *Node, peer uint64) (LinkInfo, bool) {
	for _, l := range n.Links() {
		if l.Peer == peer {
			return l, true
		}
	}
	return LinkInfo{}, false
}

// relayTriangle starts A, B and C over TCP loopback, A—B—C, with the
// options of each, and waits until A routes to C through B. C serves an
// echo on port 7.
func relayTriangle(t *testing.T, advA, advC bool, optsA, optsC []Option, common ...Option) (a, b, c *Node) {
	t.Helper()
	b, addrB := tcpNode(t, false, nil, common...)
	a, _ = tcpNode(t, advA, nil, append(append([]Option(nil), common...), optsA...)...)
	c, _ = tcpNode(t, advC, nil, append(append([]Option(nil), common...), optsC...)...)
	join(t, a, addrB)
	join(t, c, addrB)
	waitRoute(t, a, c.ID(), 2)
	waitRoute(t, c, a.ID(), 2)
	ln, err := c.Listen("", ":7")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	return a, b, c
}

// TestDirectUpgrade: A reaches C through B; C advertises its listener.
// Once A has a circuit to C, A dials C directly: the two become
// neighbours, a new dial takes the 1-hop route over the link, and B's
// relayed circuit, left idle, is closed.
func TestDirectUpgrade(t *testing.T) {
	idle := withCircuitIdle(300 * time.Millisecond)
	a, b, c := relayTriangle(t, false, true, nil, nil, idle)
	start := time.Now()
	conn, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "relayed")
	if a.Stats().CircuitsOpened != 1 {
		t.Fatalf("the first dial opened %d circuits", a.Stats().CircuitsOpened)
	}
	waitDirect(t, a, c)
	t.Logf("direct link up %v after the first dial (circuit set up and addresses known)", time.Since(start).Round(time.Millisecond))
	la, _ := linkTo(a, c.ID())
	lc, _ := linkTo(c, a.ID())
	if !la.Direct || !la.Dialer || !lc.Direct || lc.Dialer {
		t.Errorf("A's link: direct %v dialer %v; C's: direct %v dialer %v", la.Direct, la.Dialer, lc.Direct, lc.Dialer)
	}
	if st := a.Stats(); st.DirectDials != 1 || st.DirectLinks != 1 || st.DirectRefused != 0 {
		t.Errorf("A's direct counters: %+v", st.LinkStats)
	}
	waitRoute(t, a, c.ID(), 1)
	waitRoute(t, c, a.ID(), 1)

	// A new dial goes over the link: no new circuit, none relayed more.
	conn2, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn2, "direct")
	if st := a.Stats(); st.CircuitsOpened != 1 {
		t.Errorf("the dial after the upgrade opened a circuit (%d in all)", st.CircuitsOpened)
	}
	if l, _ := linkTo(a, c.ID()); l.Conns != 1 {
		t.Errorf("the direct link carries %d connections, want 1", l.Conns)
	}
	// The existing connection stays on the relay until it ends; then the
	// idle circuit is closed.
	roundTrip(t, conn, "still relayed")
	if n := b.Stats().CircuitsRelayed; n != 1 {
		t.Errorf("B relays %d circuits while the first connection is open, want 1", n)
	}
	conn.Close()
	conn2.Close()
	eventually(t, "B's relayed circuit to close", func() bool { return b.Stats().CircuitsRelayed == 0 })
	eventually(t, "A's circuit to C to end", func() bool {
		for _, ci := range a.Circuits() {
			if ci.Dest == c.ID() {
				return false
			}
		}
		return true
	})
	if st := b.Stats(); st.DirectDials != 0 {
		t.Errorf("the relay dialed %d direct links for a pair it is not part of", st.DirectDials)
	}
	for _, tn := range a.Topology().Nodes {
		if tn.ID == c.ID() && len(tn.Advertise) != 1 {
			t.Errorf("A's topology: C advertises %q", tn.Advertise)
		}
	}
}

// TestDirectOff: with WithDirect(false), A dials nothing, not even when C
// asks it to dial back.
func TestDirectOff(t *testing.T) {
	a, _, c := relayTriangle(t, false, true, []Option{WithDirect(false)}, nil)
	conn, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "relayed")
	// C cannot dial A (A advertises nothing): it asks A to dial back.
	eventually(t, "C's dial-back request to reach A", func() bool { return a.Stats().DialBacks >= 1 })
	a.c.direct.mu.Lock()
	tracked := len(a.c.direct.hosts)
	a.c.direct.mu.Unlock()
	if st := a.Stats(); st.DirectDials != 0 || tracked != 0 {
		t.Errorf("WithDirect(false): %d direct dials, %d hosts tracked", st.DirectDials, tracked)
	}
	if _, ok := linkTo(a, c.ID()); ok {
		t.Error("A and C are neighbours")
	}
	if hopsTo(a, c.ID()) != 2 {
		t.Errorf("A reaches C in %d hops", hopsTo(a, c.ID()))
	}
}

// TestDirectDialBack: only A advertises; C, which has the circuit from
// A, dials A (the one that can dial, dials), and the pair goes direct.
func TestDirectDialBack(t *testing.T) {
	a, _, c := relayTriangle(t, true, false, nil, nil)
	conn, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "relayed")
	waitDirect(t, a, c)
	la, _ := linkTo(a, c.ID())
	lc, _ := linkTo(c, a.ID())
	if !lc.Dialer || !lc.Direct || la.Dialer || !la.Direct {
		t.Errorf("C's link: dialer %v direct %v; A's: dialer %v direct %v", lc.Dialer, lc.Direct, la.Dialer, la.Direct)
	}
	if st := a.Stats(); st.DirectDials != 0 {
		t.Errorf("A, which C cannot be dialed at, dialed %d times", st.DirectDials)
	}
	waitRoute(t, a, c.ID(), 1)
}

// TestDialBackRequest: a dial-back request on a circuit reaches its far
// end, which dials only the addresses the requester's own record
// advertises (none here: nothing is dialed); one on a link's session is
// refused.
func TestDialBackRequest(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	a, c := ns[0], ns[2]
	ln, _ := c.Listen("", ":7")
	echo(t, ln)
	conn, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a.c.askDialBack(circuitOf(a, c.ID()))
	eventually(t, "the request to reach C", func() bool { return c.Stats().DialBacks == 1 })
	if st := c.Stats(); st.DirectDials != 0 {
		t.Errorf("C dialed %d times for a requester that advertises nothing", st.DirectDials)
	}

	// On a link's session, the request is refused with a reset.
	l := a.c.links.get(ns[1].ID())
	st, err := l.sess.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(wire.AppendDialBack(nil)); err != nil {
		t.Fatal(err)
	}
	st.SetReadDeadline(time.Now().Add(patience))
	if _, err := st.Read(make([]byte, 1)); !errors.Is(err, mux.ErrStreamReset) {
		t.Errorf("a dial-back request on a link: %v, want a reset", err)
	}
	if n := ns[1].Stats().DialBacks; n != 0 {
		t.Errorf("the relay took %d dial-back requests", n)
	}
}

// TestDirectIDCheck: C advertises the address of another node, D. A's
// direct dial reaches D, which does not prove C's id: the link is refused
// and counted, and neither A nor D has the other as a neighbour.
func TestDirectIDCheck(t *testing.T) {
	d, addrD := tcpNode(t, false, nil)
	b, addrB := tcpNode(t, false, nil)
	a, _ := tcpNode(t, false, nil)
	c := newNode(t, WithAdvertise(addrD))
	join(t, a, addrB)
	join(t, c, addrB)
	waitRoute(t, a, c.ID(), 2)
	ln, _ := c.Listen("", ":7")
	echo(t, ln)
	conn, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, "A's direct dial to be refused", func() bool { return a.Stats().DirectRefused == 1 })
	if _, ok := linkTo(a, d.ID()); ok {
		t.Error("A has a link to D")
	}
	if _, ok := linkTo(d, a.ID()); ok {
		t.Error("D has a link to A")
	}
	if st := a.Stats(); st.DirectLinks != 0 || st.DirectDials != 1 {
		t.Errorf("A's direct counters: %+v", st.LinkStats)
	}
	if hopsTo(a, d.ID()) != -1 || b.Stats().DirectDials != 0 {
		t.Errorf("A routes to D in %d hops; B dialed %d", hopsTo(a, d.ID()), b.Stats().DirectDials)
	}
}

// TestDirectSecured: the same on a secured mesh. C advertises D's address
// first, then its own: A's dial to D fails the TLS check of C's id
// (refused and counted), the next one reaches C, and the pair goes
// direct.
func TestDirectSecured(t *testing.T) {
	ca := newCA(t)
	d, addrD := tcpNode(t, false, nil, WithTLS(ca.nodeConfig(t, false)))
	_, addrB := tcpNode(t, false, nil, WithTLS(ca.nodeConfig(t, true)))
	a, _ := tcpNode(t, false, nil, WithTLS(ca.nodeConfig(t, false)))
	c, _ := tcpNode(t, true, []string{addrD}, WithTLS(ca.nodeConfig(t, true)))
	join(t, a, addrB)
	join(t, c, addrB)
	waitRoute(t, a, c.ID(), 2)
	ln, _ := c.Listen("", ":7")
	echo(t, ln)
	conn, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "relayed")
	waitDirect(t, a, c)
	if st := a.Stats(); st.DirectRefused != 1 || st.DirectDials != 2 || st.DirectLinks != 1 {
		t.Errorf("A's direct counters: %+v", st.LinkStats)
	}
	if _, ok := linkTo(d, a.ID()); ok {
		t.Error("D has a link to A")
	}
	waitRoute(t, a, c.ID(), 1)
	conn2, err := a.Dial("", FormatID(c.ID())+":7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	roundTrip(t, conn2, "direct")
	if st := a.Stats(); st.CircuitsOpened != 1 {
		t.Errorf("%d circuits opened, want 1", st.CircuitsOpened)
	}
}

// victim is a plain TCP listener that counts the connections it accepts
// and closes them.
type victim struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newVictim(t *testing.T) *victim {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	v := &victim{ln: ln}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			v.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		v.wg.Wait()
	})
	return v
}

// TestDirectVictim: a malicious insecure member M advertises a victim's
// address (a plain TCP listener) and opens circuits to many nodes, floods
// new records and asks each to dial back, again and again. Each node
// dials the victim at most directPerAddr times (in the minute the test
// lasts), even with its backoff cut short, and the nodes that have no circuit with M (the relay, a
// bystander) never dial it.
func TestDirectVictim(t *testing.T) {
	v := newVictim(t)
	b, addrB := tcpNode(t, false, nil)
	m := newNode(t, WithAdvertise(v.ln.Addr().String()))
	bystander := newNode(t)
	const k = 4
	targets := make([]*Node, k)
	for i := range targets {
		targets[i] = newNode(t)
		join(t, targets[i], addrB)
		ln, _ := targets[i].Listen("", ":7")
		echo(t, ln)
	}
	join(t, m, addrB)
	join(t, bystander, addrB)
	for _, n := range targets {
		waitRoute(t, m, n.ID(), 2)
	}
	waitRoute(t, bystander, m.ID(), 2)
	var conns []net.Conn
	for _, n := range targets {
		conn, err := m.Dial("", FormatID(n.ID())+":7")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// M floods: new records (each names the victim), dial-back requests.
	for i := 0; i < 20; i++ {
		ln, err := m.Listen("", "svc"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		for _, n := range targets {
			m.c.askDialBack(circuitOf(m, n.ID()))
			// As if each backoff had run out: what bounds the dials then is
			// the attempts per address.
			n.c.direct.mu.Lock()
			if h := n.c.direct.hosts[m.ID()]; h != nil {
				h.notBefore = time.Time{}
			}
			n.c.direct.mu.Unlock()
			n.c.considerDirect(m.ID(), true)
		}
	}
	eventually(t, "every target to have dialed", func() bool {
		var sum uint64
		for _, n := range targets {
			d := n.Stats().DirectDials
			if d == 0 {
				return false
			}
			sum += d
		}
		return v.accepted.Load() == int64(sum)
	})
	for i, n := range targets {
		if d := n.Stats().DirectDials; d > directPerAddr {
			t.Errorf("target %d dialed the victim %d times (at most %d a minute)", i, d, directPerAddr)
		}
	}
	if got := v.accepted.Load(); got > k*directPerAddr {
		t.Errorf("the victim got %d connections, at most %d", got, k*directPerAddr)
	}
	t.Logf("the victim got %d connections from %d targets", v.accepted.Load(), k)
	if b.Stats().DirectDials != 0 || bystander.Stats().DirectDials != 0 || m.Stats().DirectDials != 0 {
		t.Errorf("dialed for a pair they are not part of: relay %d, bystander %d, M %d", b.Stats().DirectDials, bystander.Stats().DirectDials, m.Stats().DirectDials)
	}
}

// TestDirectAttemptTable: at most directPerAddr attempts per address per
// directWindow, and a bounded table: past directMaxAddrs addresses with
// recent attempts, a new address is not dialed.
func TestDirectAttemptTable(t *testing.T) {
	var tb directTable
	now := time.Unix(1000, 0)
	for i := 0; i < directPerAddr; i++ {
		if !tb.allowLocked("x:1", now.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	if tb.allowLocked("x:1", now.Add(10*time.Second)) {
		t.Fatal("one attempt too many allowed")
	}
	if !tb.allowLocked("x:1", now.Add(directWindow)) {
		t.Fatal("an attempt a window after the first refused")
	}
	for i := 0; len(tb.attempts) < directMaxAddrs; i++ {
		tb.allowLocked(FormatID(uint64(i))+":1", now.Add(directWindow))
	}
	if tb.allowLocked("new:1", now.Add(directWindow)) {
		t.Fatal("a new address allowed in a full table")
	}
	if !tb.allowLocked("new:1", now.Add(3*directWindow)) || len(tb.attempts) > directMaxAddrs {
		t.Fatalf("a new address refused once the old ones are stale, or the table grew to %d", len(tb.attempts))
	}
}

// waitDirect waits until a and c have a link to each other.
func waitDirect(t testing.TB, a, c *Node) {
	t.Helper()
	eventually(t, "a direct link between A and C", func() bool {
		_, ac := linkTo(a, c.ID())
		_, ca := linkTo(c, a.ID())
		return ac && ca
	})
}
