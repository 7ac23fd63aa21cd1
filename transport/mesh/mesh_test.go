package mesh_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/internal/testsupport/transporttest"
	overlay "github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
	meshtp "github.com/plexusnet/plexus/transport/mesh"
)

const patience = 20 * time.Second

// relayed returns three nodes a - relay - b, linked over pipes, once a and
// b route to each other.
func relayed(t *testing.T) (a, relay, b *overlay.Node) {
	t.Helper()
	ns := chain(t, 3)
	return ns[0], ns[1], ns[2]
}

// chain returns k insecure nodes linked in a chain over pipes, once the
// ends route to each other; they are closed when the test ends.
func chain(t *testing.T, k int) []*overlay.Node {
	t.Helper()
	ns := make([]*overlay.Node, k)
	for i := range ns {
		n, err := overlay.New(overlay.WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		ns[i] = n
	}
	link := func(x, y *overlay.Node) {
		p, q := net.Pipe()
		done := make(chan struct{}, 2)
		go func() { x.Attach(p); done <- struct{}{} }()
		go func() { y.Attach(q); done <- struct{}{} }()
		t.Cleanup(func() { p.Close(); q.Close(); <-done; <-done })
	}
	for i := 0; i+1 < k; i++ {
		link(ns[i], ns[i+1])
	}
	t.Cleanup(func() {
		for _, n := range ns {
			n.Close()
		}
	})
	first, last := ns[0], ns[k-1]
	testutil.Eventually(t, "a route from one end to the other", func() bool {
		return routes(first, last.ID(), k-1) && routes(last, first.ID(), k-1)
	})
	return ns
}

// TestConformance runs the transport suite between neighbours (class
// streams of their link's session) and across a relay (over a circuit).
func TestConformance(t *testing.T) {
	for name, k := range map[string]int{"neighbour": 2, "relayed": 3} {
		t.Run(name, func(t *testing.T) {
			ns := chain(t, k)
			transporttest.Run(t, transporttest.Setup{
				Transport: meshtp.New(ns[k-1]),
				Dialer:    meshtp.New(ns[0]),
				ListenURL: func(testing.TB) string { return "mesh://:0" },
				BadURLs:   []string{"mesh://", "mesh://echo/path", "mesh://echo?x=1"},
			})
		})
	}
}

func routes(n *overlay.Node, host uint64, hops int) bool {
	for _, r := range n.Routes() {
		if r.Host == host && r.Hops == hops {
			return true
		}
	}
	return false
}

func TestReqRepAcrossARelay(t *testing.T) {
	a, _, b := relayed(t)
	server, err := rep.New(socket.WithTransport(meshtp.New(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := server.Listen("mesh://echo"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			m, err := server.RecvMsg()
			if err != nil {
				return
			}
			server.SendTo(m.Source, append([]byte("re: "), m.Content...))
		}
	}()
	client, err := req.New(socket.WithTransport(meshtp.New(a)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// The service reaches a's routing table.
	testutil.Eventually(t, "echo in a's services", func() bool { return len(a.Services()) > 0 })
	for _, url := range []string{"mesh://echo"} {
		if err := client.Dial(url); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		msg := fmt.Sprint("hello ", i)
		if err := client.Send([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := client.Recv()
		if err != nil || string(got) != "re: "+msg {
			t.Fatalf("%q %v", got, err)
		}
	}
}

func TestReqRepByHostAndPort(t *testing.T) {
	a, _, b := relayed(t)
	server, _ := rep.New(socket.WithTransport(meshtp.New(b)))
	defer server.Close()
	addr, err := server.ListenAddr("mesh://:0")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("mesh://%s:", overlay.FormatID(b.ID()))
	if len(addr) <= len(want) || addr[:len(want)] != want {
		t.Fatalf("listen address %q", addr)
	}
	go func() {
		for {
			m, err := server.RecvMsg()
			if err != nil {
				return
			}
			server.SendTo(m.Source, m.Content)
		}
	}()
	client, _ := req.New(socket.WithTransport(meshtp.New(a)))
	defer client.Close()
	if err := client.Dial(addr); err != nil {
		t.Fatal(err)
	}
	client.Send([]byte("ping"))
	if got, err := client.Recv(); err != nil || string(got) != "ping" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestPubSubAcrossARelay(t *testing.T) {
	a, _, b := relayed(t)
	publisher, err := pub.New(socket.WithTransport(meshtp.New(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer publisher.Close()
	if err := publisher.Listen("mesh://news:7"); err != nil {
		t.Fatal(err)
	}
	subscriber, err := sub.New(socket.WithTransport(meshtp.New(a)))
	if err != nil {
		t.Fatal(err)
	}
	defer subscriber.Close()
	if err := sub.Subscribe(subscriber, []byte("sport/")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "news in a's services", func() bool { return len(a.Services()) > 0 })
	if err := subscriber.Dial("mesh://" + overlay.FormatID(b.ID()) + ":7"); err != nil {
		t.Fatal(err)
	}
	// A publisher drops what it sends before the subscriber's pipe is up:
	// publish until a message arrives.
	got := make(chan string, 1)
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			m, err := subscriber.RecvContext(ctx)
			cancel()
			if err == nil {
				got <- string(m)
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				got <- "error: " + err.Error()
				return
			}
		}
	}()
	deadline := time.Now().Add(patience)
	for {
		publisher.Send([]byte("weather/rain"))
		publisher.Send([]byte("sport/goal"))
		select {
		case m := <-got:
			if m != "sport/goal" {
				t.Fatalf("received %q", m)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing received")
		}
	}
}

// TestUnknownService: a dial to a service no node offers fails with
// mesh.ErrNoService.
func TestUnknownService(t *testing.T) {
	n, err := overlay.New(overlay.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	u, _ := transport.ParseURL("mesh://nosuch")
	if _, err := meshtp.New(n).Dial(context.Background(), u, &transport.Config{}); !errors.Is(err, overlay.ErrNoService) {
		t.Errorf("Dial of an unknown service: %v", err)
	}
}
