package socket

import (
	"context"
	"net"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
	"github.com/plexusnet/plexus/transport/spstream"
)

// mustNew is New for tests, whose options are always right: an error is
// a bug.
func mustNew(opts ...Option) Socket {
	s, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// waitInline waits until the next send of s, a socket with one pipe, may
// be written inline: the pipe's writer is idle and has been for
// inlineGap. If peer, s's peer, is given and has stopped reading (its
// receive queue is full), the writer may never go idle: then it waits
// for nothing more.
func waitInline(t *testing.T, s, peer Socket) {
	t.Helper()
	ss := s.(*sock)
	testutil.Eventually(t, "the writer to go idle", func() bool {
		if peer != nil {
			ps := peer.(*sock)
			ps.rq.mu.Lock()
			stopped := ps.rq.fullWait > 0
			ps.rq.mu.Unlock()
			if stopped {
				return true
			}
		}
		ss.sq.mu.Lock()
		defer ss.sq.mu.Unlock()
		if len(ss.sq.live) != 1 {
			return false
		}
		p := ss.sq.live[0]
		return p.idle && p.ownN == 0 && !p.flush && mono()-p.lastWrite.Load() >= int64(inlineGap)
	})
}

// connected returns a listening socket and a socket dialed to it.
func connected(t *testing.T, url string, lopts, dopts []Option) (l, d Socket) {
	t.Helper()
	l, d = mustNew(lopts...), mustNew(dopts...)
	t.Cleanup(func() { d.Close(); l.Close() })
	addr, err := l.ListenAddr(url)
	if err != nil {
		t.Fatalf("listen %s: %v", url, err)
	}
	if err := d.Dial(addr); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	testutil.Eventually(t, "both ends connected", func() bool { return l.Stats().Pipes == 1 && d.Stats().Pipes == 1 })
	return l, d
}

// rawPeer listens with l on a loopback tcp:// port and connects to it by
// hand as a raw SP peer: conn is the connection, for writing anything on
// it, and p the SP pipe over it. The caller closes conn.
func rawPeer(t *testing.T, l Socket) (conn net.Conn, p *spstream.Pipe) {
	t.Helper()
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	u, _ := transport.ParseURL(addr)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	p, err = spstream.Open(context.Background(), conn, &transport.Config{Self: RawProtocol.Self, Peer: RawProtocol.Peer}, spstream.FramingTCP)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	return conn, p
}

// transportURLs are the listen URLs of every built-in transport (and ws).
func transportURLs(t *testing.T) []string {
	return []string{
		"inproc://" + t.Name(),
		"ipc://" + t.TempDir() + "/s.sock",
		"tcp://127.0.0.1:0",
		"tls+tcp://127.0.0.1:0",
		"ws://127.0.0.1:0/plexus",
	}
}

// newPair is NewPair for tests: it fails the test on error.
func newPair(t *testing.T, opts ...Option) (Socket, Socket) {
	t.Helper()
	a, b, err := NewPair(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}
