package p2ppeer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var paths = []struct {
	name string
	path Path
}{
	{"direct/tls", Path{Security: TLS}},
	{"direct/noise", Path{Security: Noise}},
	{"relay/tls", Path{Security: TLS, Relay: true}},
}

// echo accepts streams on ln and echoes each one to its EOF, then closes it.
func echo(ln net.Listener) chan error {
	done := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					err = nil
				}
				done <- err
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	return done
}

// roundTrip writes msg on a new stream, half-closes it, and checks that the
// echo comes back whole, then EOF.
func roundTrip(t *testing.T, dial func(context.Context) (net.Conn, error), msg []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echoed %d bytes, want the %d sent", len(got), len(msg))
	}
	if c.LocalAddr().Network() != "libp2p" || c.RemoteAddr().String() == "" {
		t.Fatalf("addresses %v, %v", c.LocalAddr(), c.RemoteAddr())
	}
}

// TestPaths moves a few KiB both ways on each path, on the path's client and
// on a fresh one, and closes everything.
func TestPaths(t *testing.T) {
	msg := make([]byte, 48<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for _, tc := range paths {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Start(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			done := echo(n.Listener)
			roundTrip(t, n.Dial, msg)
			roundTrip(t, n.Dial, msg[:100])

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dial, stop, err := n.FreshClient(ctx)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, dial, msg)
			stop()

			n.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCloseSendsEOF checks that Close, not only CloseWrite, lets the reader
// read what was written, then EOF.
func TestCloseSendsEOF(t *testing.T) {
	n, err := Start(Path{Security: TLS})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := n.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := n.Listener.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello, EOF", got, err)
	}
}

// TestRelayUnlimited checks that the relay sets no limit that a benchmark
// would reach: more than the default 128 KiB crosses a circuit.
func TestRelayUnlimited(t *testing.T) {
	n, err := Start(Path{Security: TLS, Relay: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	done := echo(n.Listener)
	msg := make([]byte, 1<<20)
	roundTrip(t, n.Dial, msg)
	n.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRequestLoop runs, on each path, what meshbench's workloads that use
// only Dial and Listener do: a connection per request (dial, 1 B request,
// 1 B reply, close) in a loop, and 64 B messages on 8 streams at once.
func TestRequestLoop(t *testing.T) {
	for _, tc := range paths {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Start(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			served := make(chan error, 1)
			go func() { // replies to one byte with one byte, or echoes 64 B records to EOF
				for {
					c, err := n.Listener.Accept()
					if err != nil {
						served <- nil
						return
					}
					go func() {
						io.Copy(c, c)
						c.Close()
					}()
				}
			}()
			ctx := context.Background()
			for i := range 50 {
				c, err := n.Dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				b := []byte{byte(i)}
				if _, err := c.Write(b); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, b); err != nil || b[0] != byte(i) {
					t.Fatalf("request %d: reply %v, %v", i, b, err)
				}
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			}
			errs := make(chan error, 8)
			for range 8 {
				go func() {
					c, err := n.Dial(ctx)
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					msg := make([]byte, 64)
					for range 200 {
						if _, err := c.Write(msg); err != nil {
							errs <- err
							return
						}
						if _, err := io.ReadFull(c, msg); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			n.Close()
			<-served
		})
	}
}

// TestPathSecurity checks what each path's client connection is: secured
// with the path's protocol and multiplexed with yamux, and on a relayed
// path a circuit authenticated end to end with the server's key.
func TestPathSecurity(t *testing.T) {
	for _, tc := range paths {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Start(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			conns := n.client.Network().ConnsToPeer(n.server.ID())
			if len(conns) != 1 {
				t.Fatalf("%d connections from the client to the server, want 1", len(conns))
			}
			c := conns[0]
			st := c.ConnState()
			want := tls.ID
			if tc.path.Security == Noise {
				want = noise.ID
			}
			switch {
			case tc.path.Relay:
				// A relayed connection's state names only its transport (the
				// circuit client of v0.52 hides the rest), though the upgrader
				// secures and multiplexes it as any other; the server's key
				// shows that it was authenticated end to end.
				if st.Transport != "p2p-circuit" || !c.RemotePublicKey().Equals(n.server.Peerstore().PrivKey(n.server.ID()).GetPublic()) {
					t.Errorf("transport %q, remote key %v", st.Transport, c.RemotePublicKey())
				}
			case string(st.Security) != want || string(st.StreamMultiplexer) != yamux.ID:
				t.Errorf("security %q, muxer %q; want %q, %q", st.Security, st.StreamMultiplexer, want, yamux.ID)
			}
			_, err = c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT)
			if relayed := err == nil; relayed != tc.path.Relay {
				t.Errorf("connection at %v: relayed %v, want %v", c.RemoteMultiaddr(), relayed, tc.path.Relay)
			}
			if c.Stat().Limited {
				t.Error("the connection is limited")
			}
		})
	}
}
