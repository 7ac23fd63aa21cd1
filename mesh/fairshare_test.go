package mesh

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// floodSetups has insider m open k circuit setups through its neighbour
// relay to the hosts dsts (in turn), each claiming a made-up source, and
// keep those that are accepted open (on an insecure mesh the destination
// takes them at once). It returns how many were accepted; the streams are
// reset when the test ends.
func floodSetups(t *testing.T, m, relay *Node, dsts []*Node, k int, seed uint64) int {
	t.Helper()
	l := m.c.links.get(relay.ID())
	up := 0
	for i := range k {
		st, err := l.sess.OpenStream(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Reset(mux.CodeCancel) })
		dst := dsts[i%len(dsts)]
		path := []uint64{seed + uint64(i), m.ID(), relay.ID()}
		if dst.c.links.has(relay.ID()) {
			path = append(path, dst.ID())
		} else {
			for _, n := range relayNeighbours(relay, dst) {
				path = append(path, n)
			}
			path = append(path, dst.ID())
		}
		st.Write(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 2, Path: path}))
		var v [2]byte
		st.SetReadDeadline(time.Now().Add(patience))
		_, err = io.ReadFull(st, v[:])
		st.SetReadDeadline(time.Time{})
		if err == nil && code(v[0]) == codeOK {
			up++
		}
	}
	return up
}

// relayNeighbours returns the node between relay and dst on relay's
// route: the path of the fair-share test is m > relay > r2 > dst.
func relayNeighbours(relay, dst *Node) []uint64 {
	p := relay.c.path(dst.ID())
	return p[1 : len(p)-1]
}

// TestSpoofedSourcesGetAFairShare: insiders on relay R1 open circuits
// through R1 and R2 to hosts behind R2 as fast as they can, first, each
// claiming made-up sources; R1 lets each neighbour have only its share of
// what R2 allows it (divided among the neighbours that use R2, and one
// more), so the circuits of its honest neighbours A1 and A2 come up and
// stay up, with one insider and with two colluding. (Before, the
// source field let an insider bypass MaxCircuitsPerSource: one insider
// took all 48 circuits that R2 allows R1, and honest dials were refused.)
func TestSpoofedSourcesGetAFairShare(t *testing.T) {
	for _, insiders := range []int{1, 2} {
		t.Run(map[int]string{1: "one insider", 2: "two colluding"}[insiders], func(t *testing.T) {
			r1, r2 := newNode(t), newNode(t)
			a1, a2 := newNode(t), newNode(t)
			var bad []*Node
			for range insiders {
				bad = append(bad, newNode(t))
			}
			hosts := nodes(t, 4)
			linked(t, r1, r2)
			for _, n := range append([]*Node{a1, a2}, bad...) {
				linked(t, n, r1)
			}
			for _, h := range hosts {
				linked(t, h, r2)
				ln, err := h.Listen("", ":7")
				if err != nil {
					t.Fatal(err)
				}
				echo(t, ln)
			}
			for _, h := range hosts {
				for _, n := range append([]*Node{a1, a2}, bad...) {
					waitRoute(t, n, h.ID(), 3)
				}
			}
			// The insiders first: they take what they can.
			allowance := r2.c.lim.MaxCircuitsPerPeer
			for i, m := range bad {
				share := shareOf(allowance, i+1)
				got := floodSetups(t, m, r1, hosts, 3*share, uint64(i+1)<<40)
				t.Logf("insider %d: %d of %d spoofed circuits up (its share: %d)", i, got, 3*share, share)
				if got > share {
					t.Fatalf("insider %d has %d circuits through R1 to R2, more than its share %d", i, got, share)
				}
			}
			// Every honest circuit comes up.
			var conns []net.Conn
			for _, a := range []*Node{a1, a2} {
				for _, h := range hosts {
					c, err := a.DialContext(ctxT(t), "", FormatID(h.ID())+":7")
					if err != nil {
						t.Fatalf("%s to %s: %v", FormatID(a.ID()), FormatID(h.ID()), err)
					}
					defer c.Close()
					conns = append(conns, c)
				}
			}
			// The insiders go on; the honest circuits stay up.
			for i, m := range bad {
				if got := floodSetups(t, m, r1, hosts, allowance, uint64(i+1)<<41); got != 0 {
					t.Fatalf("insider %d got %d more circuits", i, got)
				}
			}
			for _, c := range conns {
				roundTrip(t, c, "still up")
			}
			t.Logf("R1 relays %d circuits to R2, R2 allows it %d", r1.c.relays.relayed(), r2.c.lim.MaxCircuitsPerPeer)
		})
	}
}

// TestShareOf: a neighbour's share of a next hop's allowance, by the
// neighbours that use it (it included), with room for one more.
func TestShareOf(t *testing.T) {
	for _, tc := range []struct {
		allowance, users, want int
	}{
		{48, 1, 24}, // alone: half, the other half for whoever comes
		{48, 2, 16},
		{48, 3, 12},
		{48, 11, 4},
		{48, 63, minShare},
		{256, 3, 64}, // to the destination: its MaxCircuits
	} {
		if got := shareOf(tc.allowance, tc.users); got != tc.want {
			t.Errorf("allowance %d, %d users: share %d, want %d", tc.allowance, tc.users, got, tc.want)
		}
	}
}

// TestSetupChurnAtADestination: a member behind a relay that others share
// churns circuit setups to a destination as fast as it can and never
// completes their end-to-end TLS; the destination drops the churner's own
// pending setups when the relay's share is full, so every honest setup
// through the same relay comes up. (Before, the oldest pending setup of
// the relay was dropped, whoever's: 3-4 of 8 honest setups failed, and
// the refusal surfaced as ErrNotAuthorized.) The churner may name itself
// as the source or a made-up one each time: the destination tells the
// sources behind the relay apart by the node the relay got the setup
// from, which the relay checked.
func TestSetupChurnAtADestination(t *testing.T) {
	for _, spoof := range []bool{false, true} {
		t.Run(map[bool]string{false: "as itself", true: "naming made-up sources"}[spoof], func(t *testing.T) {
			setupChurn(t, spoof)
		})
	}
}

// setupChurn is TestSetupChurnAtADestination, with a churner that names
// a made-up source in each setup (spoof) or itself.
func setupChurn(t *testing.T, spoof bool) {
	ca := newCA(t)
	ns := secureNodes(t, ca, 7, WithLimits(Limits{HandshakeTimeout: 5 * time.Second}))
	churner, r, d, honest := ns[0], ns[1], ns[2], ns[3:]
	for _, n := range append([]*Node{churner, d}, honest...) {
		linked(t, n, r)
	}
	for _, n := range append([]*Node{churner}, honest...) {
		waitRoute(t, n, d.ID(), 2)
	}
	ln, _ := d.Listen("", ":7")
	echo(t, ln)

	stop := make(chan struct{})
	done := make(chan int)
	ctx := ctxT(t)
	churnStart := time.Now()
	go func() { // the churn: 32 setups in flight, each replaced by a new one
		l := churner.c.links.get(r.ID())
		var ring [32]*mux.Stream
		n := 0
		defer func() {
			for _, st := range ring {
				if st != nil {
					st.Reset(mux.CodeCancel)
				}
			}
			done <- n
		}()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if st := ring[i%len(ring)]; st != nil {
				st.Reset(mux.CodeCancel)
			}
			st, err := l.sess.OpenStream(ctx)
			if err != nil {
				return
			}
			if spoof {
				st.Write(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 2, Path: []uint64{0xbad0000 + uint64(i), churner.ID(), r.ID(), d.ID()}}))
			} else {
				st.Write(wire.AppendSetupHeader(nil, wire.SetupHeader{Hop: 1, Path: []uint64{churner.ID(), r.ID(), d.ID()}}))
			}
			ring[i%len(ring)] = st
			n++
		}
	}()
	eventually(t, "the churn to fill the relay's share at the destination", func() bool {
		return d.c.relays.setups.Len(peerKey(r.ID())) >= d.c.lim.MaxPendingCircuits/2
	})
	start := time.Now()
	for round := range 4 {
		for _, h := range honest {
			c, err := h.DialContext(ctxT(t), "", FormatID(d.ID())+":7")
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, FormatID(h.ID()), err)
			}
			roundTrip(t, c, "through the churn")
			c.Close()
			ci := circuitOf(h, d.ID())
			ci.sess.Close() // the next round sets up again
		}
	}
	close(stop)
	n := <-done
	took := time.Since(start)
	t.Logf("16 of 16 honest setups up in %v, while the churner opened %d setups (%.0f a second); the destination dropped %d of them, the relay refused %d",
		took.Round(time.Millisecond), n, float64(n)/time.Since(churnStart).Seconds(), d.Stats().CircuitsRefusedLimit, r.Stats().CircuitsRefusedLimit)
	for _, h := range honest {
		if st := h.Stats(); st.CircuitSetupsFailed != 0 {
			t.Errorf("%s: %d setups failed", FormatID(h.ID()), st.CircuitSetupsFailed)
		}
	}
}

// TestSetupDroppedDuringTLSIsALimit: a setup that the destination drops
// during its end-to-end TLS (MaxPendingCircuits) fails at the source with
// the *LimitError that names the limit, not ErrNotAuthorized.
func TestSetupDroppedDuringTLSIsALimit(t *testing.T) {
	ca := newCA(t)
	src := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	x, y := net.Pipe()
	cs, err := mux.Client(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ss, err := mux.Server(y, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	go func() {
		st, err := ss.AcceptStream(ctxT(t))
		if err != nil {
			return
		}
		st.Read(make([]byte, 1)) // the ClientHello has come: drop the setup
		st.Reset(resetRefused + mux.ErrorCode(codeOf(src.c.lim.limitErr("MaxPendingCircuits"))))
	}()
	st, err := cs.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.c.ident.handshake(ctxT(t), st, false, 42, nil, nil)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxPendingCircuits" || errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("%v, want the limit MaxPendingCircuits", err)
	}
	t.Log(err)
}
