package socket

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testutil"
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
			l := New(WithHandshakeTimeout(time.Minute))
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
			d := New(WithHandshakeTimeout(time.Minute))
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
	l := New(WithMaxRecvSize(limit))
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
	time.Sleep(200 * time.Millisecond) // let the readers see the headers (not needed for correctness)
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
