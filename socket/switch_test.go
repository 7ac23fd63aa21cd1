package socket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// TestSwitchReplies: clients reach a server through two switches in a
// row; each reply, sent back along the request's Source path, reaches the
// client that asked and no other.
func TestSwitchReplies(t *testing.T) {
	srv := mustNew()
	defer srv.Close()
	srvAddr, _ := srv.ListenAddr("inproc://sw-server")

	// switch 1: front listens for clients, back dials the server.
	front1, back1 := mustNew(), mustNew()
	defer front1.Close()
	defer back1.Close()
	front1Addr, _ := front1.ListenAddr("tcp://127.0.0.1:0")
	if err := back1.Dial(srvAddr); err != nil {
		t.Fatal(err)
	}
	sw1 := StartSwitch(back1, front1, nil)
	defer sw1.Stop()

	// switch 2: in front of switch 1.
	front2, back2 := mustNew(), mustNew()
	defer front2.Close()
	defer back2.Close()
	front2Addr, _ := front2.ListenAddr("ipc://" + t.TempDir() + "/sw.sock")
	if err := back2.Dial(front1Addr); err != nil {
		t.Fatal(err)
	}
	sw2 := StartSwitch(back2, front2, nil)
	defer sw2.Stop()

	const clients = 4
	var cs []Socket
	for i := 0; i < clients; i++ {
		c := mustNew()
		defer c.Close()
		if err := c.Dial(front2Addr); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for i, c := range cs {
		if err := c.Send([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for range cs {
		m, err := srv.RecvMsg()
		if err != nil {
			t.Fatal(err)
		}
		// server pipe, switch 1 front pipe, switch 2 front pipe
		if len(m.Source) != 3 || m.TTL != DefaultTTL-3 {
			t.Fatalf("source %v ttl %d", m.Source, m.TTL)
		}
		if err := srv.SendTo(m.Source, append([]byte("re:"), m.Content...)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cs {
		m, err := c.RecvMsg()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint("re:", i); string(m.Content) != want {
			t.Fatalf("client %d got %q", i, m.Content)
		}
		if len(m.Destination) != 0 || len(m.Source) != 3 {
			t.Fatalf("reply paths: source %v destination %v", m.Source, m.Destination)
		}
	}
}

func TestSwitchMiddleware(t *testing.T) {
	client, front := newPair(t)
	back, server := newPair(t)
	for _, s := range []Socket{client, front, back, server} {
		defer s.Close()
	}
	sw := StartSwitch(back, front, func(m *Message) *Message {
		switch {
		case bytes.Equal(m.Content, []byte("drop")):
			return nil
		case bytes.HasPrefix(m.Content, []byte("up:")):
			m.Content = bytes.ToUpper(m.Content)
		}
		return m
	})
	client.Send([]byte("drop"))
	client.Send([]byte("up:hello"))
	m, err := server.RecvMsg()
	if err != nil || string(m.Content) != "UP:HELLO" {
		t.Fatal(m, err)
	}
	server.SendTo(m.Source, []byte("up:back"))
	if b, err := client.Recv(); err != nil || string(b) != "UP:BACK" {
		t.Fatal(string(b), err)
	}
	sw.Stop()
	select {
	case <-sw.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	// The sockets are still usable after the switch stopped.
	client.Send([]byte("direct"))
	if b, err := front.Recv(); err != nil || string(b) != "direct" {
		t.Fatal(string(b), err)
	}
}

func TestSwitchEndsWhenASocketCloses(t *testing.T) {
	a, b := mustNew(), mustNew()
	defer b.Close()
	sw := StartSwitch(a, b, nil)
	a.Close()
	<-sw.Done()
}

func TestSwitchBrokenPathCounted(t *testing.T) {
	client, front := newPair(t)
	back, server := newPair(t)
	for _, s := range []Socket{client, front, back, server} {
		defer s.Close()
	}
	sw := StartSwitch(back, front, nil)
	defer sw.Stop()
	client.Send([]byte("hi"))
	m, err := server.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
	testutil.Eventually(t, "the switch front to lose the client", func() bool { return front.Stats().Pipes == 0 })
	if err := server.SendTo(m.Source, []byte("lost")); err != nil {
		t.Fatal(err) // the first hop (server to switch) is fine
	}
	testutil.Eventually(t, "the broken path to be counted at the switch", func() bool { return front.Stats().BrokenPaths == 1 })
	if err := server.SendTo(Path{m.Source[0] + 1}, nil); !errors.Is(err, ErrBrokenPath) {
		t.Fatal(err)
	}
}

// TestSwitchOneWay: a switch between a socket that only receives and one
// that only sends (as pull and push, or sub and pub) forwards in the one
// direction they carry; the other direction ending does not stop it.
func TestSwitchOneWay(t *testing.T) {
	producer := mustNew()
	defer producer.Close()
	consumer := mustNew()
	defer consumer.Close()
	in, out := mustNew(WithNoSend()), mustNew(WithNoRecv()) // the switch: receives from producers, sends to consumers
	defer in.Close()
	defer out.Close()
	inAddr, _ := in.ListenAddr("inproc://sw-oneway-in")
	outAddr, _ := out.ListenAddr("inproc://sw-oneway-out")
	if err := producer.Dial(inAddr); err != nil {
		t.Fatal(err)
	}
	if err := consumer.Dial(outAddr); err != nil {
		t.Fatal(err)
	}
	sw := StartSwitch(out, in, nil)
	defer sw.Stop()
	for i := 0; i < 10; i++ {
		if err := producer.Send([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := consumer.RecvContext(ctx)
		cancel()
		if err != nil || string(m) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q, %v", i, m, err)
		}
	}
	select {
	case <-sw.Done():
		t.Fatal("the switch stopped")
	default:
	}
}

// recvCounter counts the receive attempts made on a socket.
type recvCounter struct {
	Socket
	n atomic.Int64
}

func (c *recvCounter) RecvMsgContext(ctx context.Context) (*Message, error) {
	c.n.Add(1)
	return c.Socket.RecvMsgContext(ctx)
}

// TestSwitchPastDeadline: a switch whose socket has a receive deadline in
// the past does not spin: it retries a few times a second at most, and
// forwards again once the deadline is lifted.
func TestSwitchPastDeadline(t *testing.T) {
	client, front := newPair(t)
	defer client.Close()
	defer front.Close()
	back, server := newPair(t)
	defer back.Close()
	defer server.Close()
	if err := front.SetRecvDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	counted := &recvCounter{Socket: front}
	sw := StartSwitch(back, counted, nil)
	defer sw.Stop()
	// Backing off from 1 ms to 100 ms, the 10th attempt comes about
	// 330 ms after the first; a spinning switch makes it within
	// microseconds.
	start := time.Now()
	testutil.Eventually(t, "10 receive attempts", func() bool { return counted.n.Load() >= 10 })
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("10 receive attempts in %v with a deadline in the past: the switch spins", took)
	} else {
		t.Logf("10 receive attempts in %v", took)
	}
	front.SetRecvDeadline(time.Time{})
	if err := client.Send([]byte("through")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if m, err := server.RecvContext(ctx); err != nil || string(m) != "through" {
		t.Fatalf("after lifting the deadline: %q, %v", m, err)
	}
}
