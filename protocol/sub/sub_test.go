package sub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// end is the sentinel each case's subscriber also subscribes to: once it
// arrives, everything published before it has been seen or filtered.
const end = "\xffend"

// recvUntilEnd returns what s receives before the sentinel.
func recvUntilEnd(t *testing.T, s socket.Socket) []string {
	t.Helper()
	var got []string
	for {
		b, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == end {
			return got
		}
		got = append(got, string(b))
	}
}

func TestFilter(t *testing.T) {
	msgs := []string{"", "a", "ab", "abc", "b", "ba", "weather/paris", "weather/rome", "news"}
	for _, tc := range []struct {
		name  string
		sub   []string
		unsub []string
		want  []string
	}{
		{name: "no subscription: nothing", want: nil},
		{name: "empty topic: everything", sub: []string{""}, want: msgs},
		{name: "prefix", sub: []string{"ab"}, want: []string{"ab", "abc"}},
		{name: "exact length", sub: []string{"abc"}, want: []string{"abc"}},
		{name: "two topics", sub: []string{"b", "weather/"}, want: []string{"b", "ba", "weather/paris", "weather/rome"}},
		{name: "overlapping topics count once", sub: []string{"a", "ab"}, want: []string{"a", "ab", "abc"}},
		{name: "subscribe twice, unsubscribe once", sub: []string{"a", "a"}, unsub: []string{"a"}, want: nil},
		{name: "unsubscribed", sub: []string{"a", "news"}, unsub: []string{"a"}, want: []string{"news"}},
		{name: "unsubscribe everything", sub: []string{"", "b"}, unsub: []string{""}, want: []string{"b", "ba"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s := prototest.Open(t, pub.New), prototest.Open(t, sub.New)
			addr, err := p.ListenAddr("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			for _, topic := range append(tc.sub, end) {
				if err := sub.Subscribe(s, []byte(topic)); err != nil {
					t.Fatal(err)
				}
			}
			for _, topic := range tc.unsub {
				if err := sub.Unsubscribe(s, []byte(topic)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Dial(addr); err != nil {
				t.Fatal(err)
			}
			// A publisher sends to the subscribers connected now.
			testutil.Eventually(t, "the subscriber", func() bool { return p.Stats().Pipes == 1 })
			for _, m := range append(msgs, end) {
				if err := p.Send([]byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			if got := recvUntilEnd(t, s); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFanOut: every subscriber gets every message it subscribed to, over
// every transport.
func TestFanOut(t *testing.T) {
	for _, url := range []string{"inproc://" + t.Name(), "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/ps.sock"} {
		t.Run(url[:3], func(t *testing.T) {
			// Lossless, so that every message counts.
			p := prototest.Open(t, pub.New, pub.WithBlocking())
			addr, err := p.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			topics := []string{"", "even", "odd", "even", "odd"}
			subs := make([]socket.Socket, len(topics))
			for i, topic := range topics {
				subs[i] = prototest.Open(t, sub.New)
				sub.Subscribe(subs[i], []byte(topic))
				sub.Subscribe(subs[i], []byte(end))
				if err := subs[i].Dial(addr); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Eventually(t, "the subscribers", func() bool { return p.Stats().Pipes == len(subs) })
			const n = 300
			go func() {
				for i := 0; i < n; i++ {
					kind := "even"
					if i%2 == 1 {
						kind = "odd"
					}
					if p.Send([]byte(fmt.Sprint(kind, " ", i))) != nil {
						return
					}
				}
				p.Send([]byte(end))
			}()
			for i, s := range subs {
				got := recvUntilEnd(t, s)
				want := n
				if topics[i] != "" {
					want = n / 2
				}
				if len(got) != want {
					t.Fatalf("subscriber %d (%q): %d messages, want %d", i, topics[i], len(got), want)
				}
				for _, m := range got {
					if !strings.HasPrefix(m, topics[i]) {
						t.Fatalf("subscriber %d (%q) got %q", i, topics[i], m)
					}
				}
			}
		})
	}
}

// TestUnsubscribeDropsQueued: messages queued before their topic is
// unsubscribed are not returned (NNG purges its queue).
func TestUnsubscribeDropsQueued(t *testing.T) {
	p, s := prototest.Open(t, pub.New), prototest.Open(t, sub.New)
	addr, _ := p.ListenAddr("inproc://" + t.Name())
	sub.Subscribe(s, []byte("a"))
	sub.Subscribe(s, []byte("b"))
	if err := s.Dial(addr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the subscriber", func() bool { return p.Stats().Pipes == 1 })
	for _, m := range []string{"a1", "b1", "a2"} {
		p.Send([]byte(m))
	}
	testutil.Eventually(t, "the messages to be queued", func() bool { return s.Stats().MsgsRecv == 3 })
	if err := sub.Unsubscribe(s, []byte("a")); err != nil {
		t.Fatal(err)
	}
	sub.Subscribe(s, []byte(end))
	p.Send([]byte(end))
	if got := recvUntilEnd(t, s); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("got %q", got)
	}
}

func TestErrors(t *testing.T) {
	s := prototest.Open(t, sub.New)
	if err := sub.Unsubscribe(s, []byte("never")); !errors.Is(err, sub.ErrNotSubscribed) {
		t.Fatalf("unsubscribe unknown: %v", err)
	}
	sub.Subscribe(s, []byte("x"))
	if err := sub.Unsubscribe(s, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(s, []byte("x")); !errors.Is(err, sub.ErrNotSubscribed) {
		t.Fatalf("unsubscribe twice: %v", err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"Send":    s.Send(nil),
		"SendAll": s.SendAll(nil),
		"SendTo":  s.SendTo(socket.Path{1}, nil),
		"SendMsg": s.SendMsgContext(ctx, &socket.Message{}),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s.Close()
	if err := sub.Subscribe(s, nil); !errors.Is(err, socket.ErrClosed) {
		t.Errorf("subscribe after close: %v", err)
	}
	if err := sub.Unsubscribe(s, nil); !errors.Is(err, socket.ErrClosed) {
		t.Errorf("unsubscribe after close: %v", err)
	}
	if _, err := s.Recv(); !errors.Is(err, socket.ErrClosed) {
		t.Errorf("recv after close: %v", err)
	}
}

// TestMismatch: sub peers only with pub.
func TestMismatch(t *testing.T) { prototest.Mismatch(t, sub.Protocol, sub.New) }
