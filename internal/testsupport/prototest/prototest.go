// Package prototest holds the helpers that the tests of the protocol
// packages (protocol/...) and the interoperability tests share: opening a
// socket for the length of a test, and the check that a protocol refuses
// every peer but its partner.
package prototest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/protocol/pair"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
)

// Open returns the socket newSocket (a protocol's New or NewRaw) makes
// with opts, closed when the test ends; an error fails the test.
func Open[S interface{ Close() error }](t testing.TB, newSocket func(...socket.Option) (S, error), opts ...socket.Option) S {
	t.Helper()
	s, err := newSocket(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Mismatch checks that a socket of protocol self, made by newSocket,
// refuses every protocol but its peer, and raw sockets: they fail with
// socket.ErrProtocolMismatch whichever side dials, and no pipe opens on
// either side. Each protocol it refuses is a subtest.
func Mismatch[S socket.Socket](t *testing.T, self socket.Protocol, newSocket func(...socket.Option) (S, error)) {
	for _, p := range []socket.Protocol{
		pair.Protocol, bus.Protocol, pub.Protocol, sub.Protocol, push.Protocol, pull.Protocol,
		req.Protocol, rep.Protocol, surveyor.Protocol, respondent.Protocol, socket.RawProtocol,
	} {
		if p.Self == self.Peer {
			continue
		}
		t.Run(p.Self.Name, func(t *testing.T) {
			ours := Open(t, newSocket)
			theirs := Open(t, socket.New, socket.WithProtocol(p))
			addr, err := ours.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := theirs.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
				t.Fatalf("%s dialing %s: %v", p.Self.Name, self.Self.Name, err)
			}
			addr, err = theirs.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if err := ours.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
				t.Fatalf("%s dialing %s: %v", self.Self.Name, p.Self.Name, err)
			}
			if n := ours.Stats().PipesOpened + theirs.Stats().PipesOpened; n != 0 {
				t.Fatalf("%d pipes opened", n)
			}
		})
	}
}

// allocRuns is how many receives RecvIntoAllocs measures.
const allocRuns = 100

// RecvIntoAllocs checks that r, a socket opened with a receive queue of
// at least 2×allocRuns, receives with RecvInto into a buffer it hands back
// without allocating. produce(n) must make n more messages of at most 64
// bytes arrive at r, now or soon, and wait for nothing r has to do. The
// first message turns r's recycling of receive buffers on; the measured
// ones are all queued before the measurement starts.
func RecvIntoAllocs(t *testing.T, r socket.Socket, produce func(n int)) {
	t.Helper()
	buf := make([]byte, 0, 64)
	var err error
	start := r.Stats().MsgsRecv
	produce(1)
	if buf, err = r.RecvInto(nil, buf); err != nil {
		t.Fatalf("RecvInto: %v", err)
	}
	produce(allocRuns + 1)
	want := start + 1 + allocRuns + 1
	testutil.Eventually(t, fmt.Sprintf("%d messages received", want-start), func() bool { return r.Stats().MsgsRecv >= want })
	allocs := testing.AllocsPerRun(allocRuns, func() {
		if buf, err = r.RecvInto(nil, buf); err != nil {
			t.Fatalf("RecvInto: %v", err)
		}
	})
	if allocs > 0 {
		t.Errorf("RecvInto: %.0f allocations per message, want 0", allocs)
	}
}

// Connect makes listener listen on a loopback TCP port and dialer dial
// it, and waits until each has its pipe.
func Connect(t testing.TB, listener, dialer socket.Socket) {
	t.Helper()
	addr, err := listener.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := dialer.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the pipes of "+addr, func() bool {
		return listener.Stats().Pipes == 1 && dialer.Stats().Pipes == 1
	})
}
