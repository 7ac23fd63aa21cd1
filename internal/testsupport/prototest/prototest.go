// Package prototest holds the helpers that the tests of the protocol
// packages (protocol/...) and the interoperability tests share: opening a
// socket for the length of a test, and the check that a protocol refuses
// every peer but its partner.
package prototest

import (
	"errors"
	"testing"

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
