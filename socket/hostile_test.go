package socket

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/spstream"
)

// TestIdleConnectionsLockNobodyOut: hundreds of connections that never
// send the SP handshake, open against a tcp:// or ipc:// listener, do not
// delay the Dial of a legitimate peer, which succeeds at once.
func TestIdleConnectionsLockNobodyOut(t *testing.T) {
	const idle = 500
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/idle.sock"} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			// A long handshake timeout: a dial that has to wait for idle
			// connections to time out would take minutes.
			l := mustNew(WithHandshakeTimeout(time.Minute))
			defer l.Close()
			addr, err := l.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			network, host := "tcp", strings.TrimPrefix(addr, "tcp://")
			if strings.HasPrefix(addr, "ipc://") {
				network, host = "unix", strings.TrimPrefix(addr, "ipc://")
			}
			for i := 0; i < idle; i++ {
				c, err := net.Dial(network, host)
				if err != nil {
					t.Fatalf("idle connection %d: %v", i, err)
				}
				defer c.Close()
			}
			d := mustNew(WithHandshakeTimeout(time.Minute))
			defer d.Close()
			start := time.Now()
			if err := d.Dial(addr); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if took > 10*time.Second { // generous: locked out, it would be minutes
				t.Fatalf("with %d idle connections, a legitimate dial took %v", idle, took)
			}
			t.Logf("with %d idle connections, a legitimate dial took %v", idle, took)
			if err := d.Send([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if b, err := l.Recv(); err != nil || string(b) != "hello" {
				t.Fatalf("%q, %v", b, err)
			}
			testutil.Eventually(t, "one pipe on the listener", func() bool { return l.Stats().Pipes == 1 })
		})
	}
}

// TestHalfSentHugeMessages: peers that announce a message of exactly the
// size limit and send one byte of it cost the listener a few KiB each,
// not the limit: the buffer grows as the bytes arrive.
func TestHalfSentHugeMessages(t *testing.T) {
	const (
		peers = 200
		limit = transport.DefaultMaxRecvSize
	)
	l := mustNew(WithMaxRecvSize(limit))
	defer l.Close()
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	u, _ := transport.ParseURL(addr)
	before := heapInUse()
	hdr := spstream.AppendHeader(nil, RawProtocolID)
	frame := binary.BigEndian.AppendUint64(nil, limit)
	frame = append(frame, 0) // the first header byte of the message
	for i := 0; i < peers; i++ {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testutil.Patience))
		if _, err := c.Write(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, spstream.HandshakeLen)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "every peer connected", func() bool { return l.Stats().Pipes == peers })
	// Time, not state: nothing says that a pipe's reader has parsed the
	// header of a message it waits for the rest of, and the heap is
	// measured after (the test would only pass too easily before).
	time.Sleep(200 * time.Millisecond)
	grew := heapInUse() - before
	t.Logf("%d peers, each with a half-sent message of %d bytes: the heap grew %d KiB (%d bytes a peer)", peers, limit, grew>>10, grew/peers)
	if grew > peers*limit/8 { // generous: allocating the announced size is peers*limit
		t.Fatalf("the heap grew %d MiB for %d peers that sent one byte of a %d-byte message", grew>>20, peers, limit)
	}
	if st := l.Stats(); st.Pipes != peers || st.Oversize != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// heapInUse returns the bytes of heap in use after a garbage collection.
func heapInUse() int {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int(ms.HeapInuse)
}

// TestSendToLaggingPeer: sends to one pipe never wait long for a peer that
// does not read: once that pipe's queue is full and it has taken nothing
// for a moment, each send to it fails at once with ErrPeerFull, while
// sends to a healthy peer go on. When the peer reads everything, sends to
// it work again. A healthy peer whose writer is merely behind a burst of
// sends loses nothing.
func TestSendToLaggingPeer(t *testing.T) {
	l := mustNew(WithSendStopTimeout(0))
	defer l.Close()
	conn, _ := rawPeer(t, l) // the lagging peer: reads nothing for now
	defer conn.Close()
	conn.Write(transport.AppendFrame(nil, []byte{0, DefaultTTL, 0, 0, 'h', 'i'}))
	slow, err := l.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := l.ListenAddr("tcp://127.0.0.1:0")
	good := mustNew()
	defer good.Close()
	if err := good.Dial(addr); err != nil {
		t.Fatal(err)
	}
	good.Send([]byte("hello"))
	fast, err := l.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}

	// Fill what the lagging peer's connection and queue hold.
	big := make([]byte, 64<<10)
	sent := 0
	for {
		err := l.SendTo(slow.Source, big)
		if errors.Is(err, ErrPeerFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent++; sent > 100000 {
			t.Fatal("the lagging peer's queue never filled")
		}
	}
	// Now every send to it fails at once, and sends to the good peer work.
	start := time.Now()
	for i := 0; i < 100; i++ {
		if err := l.SendTo(slow.Source, big); !errors.Is(err, ErrPeerFull) || !errors.Is(err, ErrMsgDropped) {
			t.Fatalf("send %d to the lagging peer: %v", i, err)
		}
		if err := l.SendTo(fast.Source, []byte("still served")); err != nil {
			t.Fatal(err)
		}
		if b, err := good.Recv(); err != nil || string(b) != "still served" {
			t.Fatalf("%q, %v", b, err)
		}
	}
	if took := time.Since(start); took > 5*time.Second { // generous: waiting would take 100 x peerStall
		t.Fatalf("100 sends to a lagging peer took %v", took)
	}
	if st := l.Stats(); st.PeerFull != 101 || st.Dropped != 101 {
		t.Fatalf("stats %+v", st)
	}

	// The peer reads everything: sends to it work again.
	go io.Copy(io.Discard, conn)
	testutil.Eventually(t, "the lagging peer to catch up", func() bool {
		return l.SendTo(slow.Source, []byte("x")) == nil
	})

	// A burst of sends to a healthy peer, faster than its writer, loses
	// nothing: they wait for the writer, as other sends do.
	const burst = 5000
	for i := 0; i < burst; i++ {
		if err := l.SendTo(fast.Source, []byte("burst")); err != nil {
			t.Fatalf("burst send %d: %v", i, err)
		}
	}
	for i := 0; i < burst; i++ {
		if _, err := good.Recv(); err != nil {
			t.Fatal(err)
		}
	}
}
