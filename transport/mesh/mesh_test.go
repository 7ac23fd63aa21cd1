package mesh_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

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
	var ns [3]*overlay.Node
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
	link(ns[0], ns[1])
	link(ns[1], ns[2])
	t.Cleanup(func() {
		for _, n := range ns {
			n.Close()
		}
	})
	deadline := time.Now().Add(patience)
	for !routes(ns[0], ns[2].ID(), 2) || !routes(ns[2], ns[0].ID(), 2) {
		if time.Now().After(deadline) {
			t.Fatal("no route across the relay")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ns[0], ns[1], ns[2]
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
	deadline := time.Now().Add(patience)
	for len(a.Services()) == 0 { // the service reaches a's routing table
		if time.Now().After(deadline) {
			t.Fatal("echo is not seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	deadline := time.Now().Add(patience)
	for len(a.Services()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("news is not seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
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

func TestBadURLs(t *testing.T) {
	n, err := overlay.New(overlay.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	tp := meshtp.New(n)
	if tp.Scheme() != "mesh" {
		t.Fatal(tp.Scheme())
	}
	for _, raw := range []string{"mesh://", "mesh://echo/path", "mesh://echo?x=1"} {
		u, err := transport.ParseURL(raw)
		if err != nil {
			continue
		}
		if _, err := tp.Dial(context.Background(), u, &transport.Config{}); !errors.Is(err, transport.ErrBadURL) {
			t.Errorf("Dial %s: %v", raw, err)
		}
	}
	u, _ := transport.ParseURL("mesh://nosuch")
	if _, err := tp.Dial(context.Background(), u, &transport.Config{}); !errors.Is(err, overlay.ErrNoService) {
		t.Errorf("Dial of an unknown service: %v", err)
	}
}
