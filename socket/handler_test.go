package socket

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

// hookLog is a handler with every hook, recording what the core tells it.
type hookLog struct {
	c Core

	mu       sync.Mutex
	events   []string
	refuse   error     // BeforeRecv's error, if any
	expired  error     // BeforeRecv's error once the receive waited
	deadline time.Time // BeforeRecv's deadline
	waited   []bool    // BeforeRecv's argument, call by call
	closed   bool
}

func (h *hookLog) Init(c Core) error { h.c = c; return nil }

func (h *hookLog) log(format string, args ...any) {
	h.mu.Lock()
	h.events = append(h.events, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

func (h *hookLog) Send(ctx context.Context, content []byte) error {
	h.log("send %s", content)
	src := Path{EndOfPath | 7}
	return h.c.SendMsg(ctx, &Message{Source: src, Content: content})
}

func (h *hookLog) BeforeRecv(waited bool) (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waited = append(h.waited, waited)
	if h.refuse != nil {
		return time.Time{}, h.refuse
	}
	if waited && h.expired != nil {
		return time.Time{}, h.expired
	}
	return h.deadline, nil
}

func (h *hookLog) Received(in Incoming) bool {
	h.log("received %s", in.Content)
	return !strings.HasPrefix(string(in.Content), "drop")
}

func (h *hookLog) Filter(in Incoming) bool { return !strings.HasPrefix(string(in.Content), "filter") }

func (h *hookLog) PipeAdded(id uint32)   { h.log("added") }
func (h *hookLog) PipeRemoved(id uint32) { h.log("removed") }
func (h *hookLog) Taken(pipe, tag uint32) {
	h.log("taken %x", tag)
}

func (h *hookLog) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

func (h *hookLog) has(event string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e == event {
			return true
		}
	}
	return false
}

// hooked is a protocol of requests (HeaderRequest) to one peer whose
// handler is a hookLog, and the protocol it pairs with.
var (
	hooked = Protocol{
		Self:    transport.Proto{ID: 0xF0F0, Name: "hooked"},
		Peer:    transport.Proto{ID: 0xF0F1, Name: "hookedpeer"},
		Header:  HeaderRequest,
		TTL:     8,
		Sends:   SendsOne,
		Handler: func() Handler { return new(hookLog) },
	}
	hookedPeer = Protocol{
		Self:   hooked.Peer,
		Peer:   hooked.Self,
		Header: HeaderReply,
		TTL:    8,
		Sends:  SendsPath,
	}
)

// TestHooks: the core calls each hook of a handler where its doc says.
func TestHooks(t *testing.T) {
	s := mustNew(WithProtocol(hooked))
	h, ok := HandlerOf[*hookLog](s)
	if !ok {
		t.Fatal("HandlerOf found no hookLog")
	}
	peer := mustNew(WithProtocol(hookedPeer))
	defer peer.Close()
	addr, _ := peer.ListenAddr("inproc://" + t.Name())
	if err := s.Dial(addr); err != nil {
		t.Fatal(err)
	}
	if !h.has("added") {
		t.Fatal("no PipeAdded before Dial returned")
	}
	// Sends without a path go to the handler, which sends through Core.
	if err := s.Send([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&Message{Content: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b"} {
		m, err := peer.RecvMsg()
		if err != nil || string(m.Content) != want || len(m.Source) != 2 || m.Source[1] != EndOfPath|7 {
			t.Fatalf("peer got %+v, %v", m, err)
		}
		// Answer twice: the filter drops one, Received the other.
		peer.SendTo(m.Source, []byte("filter "+want))
		peer.SendTo(m.Source, []byte("drop "+want))
		peer.SendTo(m.Source, []byte("reply "+want))
	}
	testutil.Eventually(t, "the pipe to take both", func() bool { return h.has("taken 80000007") })
	for _, want := range []string{"reply a", "reply b"} {
		b, err := s.Recv()
		if err != nil || string(b) != want {
			t.Fatalf("got %q, %v, want %q", b, err, want)
		}
	}
	if st := s.Stats(); st.Filtered != 4 {
		t.Fatalf("Filtered = %d, want 4 (2 by the filter, 2 by Received)", st.Filtered)
	}
	if h.has("received filter a") || !h.has("received drop a") {
		t.Fatalf("events %q", h.events)
	}
	// The ways of sending the protocol does not have never reach it.
	for name, err := range map[string]error{
		"SendAll": s.SendAll(nil),
		"SendTo":  s.SendTo(Path{1}, nil),
		"SendMsg": s.SendMsg(&Message{Destination: Path{1}}),
	} {
		if !errors.Is(err, ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// BeforeRecv's error ends a receive at once; its deadline bounds it,
	// and then it is asked again, told the receive waited.
	h.mu.Lock()
	h.refuse = ErrBadState
	h.waited = nil
	h.mu.Unlock()
	if _, err := s.Recv(); !errors.Is(err, ErrBadState) {
		t.Fatalf("refused receive: %v", err)
	}
	h.mu.Lock()
	h.refuse = nil
	h.expired = os.ErrDeadlineExceeded
	h.deadline = time.Now().Add(20 * time.Millisecond)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.RecvInto(ctx, nil); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("receive past the handler's deadline: %v", err)
	}
	if len(h.waited) != 3 || h.waited[1] || !h.waited[2] {
		t.Fatalf("BeforeRecv told %v", h.waited)
	}
	s.Close()
	if !h.closed || !h.has("removed") {
		t.Fatalf("after Close: closed %v, events %q", h.closed, h.events)
	}
	if err := s.Send(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if _, err := s.Recv(); !errors.Is(err, ErrClosed) {
		t.Fatalf("recv after close: %v", err)
	}
}

// TestNewChecksOptions: New refuses what is not for its socket, saying
// what, with an error matching ErrBadOption; a handler's option and Init
// fail New with their own error.
func TestNewChecksOptions(t *testing.T) {
	opt := HandlerOption("test.WithThing", func(h *hookLog) error { return nil })
	bad := errors.New("no such thing")
	badOpt := HandlerOption("test.WithBadThing", func(h *hookLog) error { return bad })
	for _, tt := range []struct {
		name string
		opts []Option
		want string
	}{
		{"raw socket", []Option{opt}, "test.WithThing is not an option of a plexus socket"},
		{"other protocol", []Option{WithProtocol(hookedPeer), opt}, "test.WithThing is not an option of a raw hookedpeer socket"},
		{"WithProtocol twice", []Option{WithProtocol(hooked), WithProtocol(hooked)}, "WithProtocol given 2 times"},
		{"send mode", []Option{WithProtocol(hooked), WithSendMode(SendToAll)}, "WithSendMode(SendToAll) on a hooked socket"},
		{"send mode", []Option{WithProtocol(hookedPeer), WithSendMode(SendToOne)}, "WithSendMode(SendToOne) on a hookedpeer socket"},
	} {
		s, err := New(tt.opts...)
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tt.want) || s != nil {
			t.Errorf("%s: %v, want ErrBadOption saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := New(WithProtocol(hooked), badOpt); !errors.Is(err, bad) || errors.Is(err, ErrBadOption) {
		t.Errorf("an option's error: %v", err)
	}
	failing := hooked
	failing.Handler = func() Handler { return failingInit{bad} }
	if _, err := New(WithProtocol(failing)); !errors.Is(err, bad) {
		t.Errorf("Init's error: %v", err)
	}
	if _, _, err := NewPair(opt); !errors.Is(err, ErrBadOption) {
		t.Errorf("NewPair: %v", err)
	}
	s, err := New(WithProtocol(hooked), opt)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, ok := HandlerOf[*hookLog](mustNew()); ok {
		t.Error("HandlerOf found a handler in a raw socket")
	}
}

type failingInit struct{ err error }

func (f failingInit) Init(Core) error { return f.err }

// TestDescription: what a Protocol says it sends, receives and holds is
// what its sockets do.
func TestDescription(t *testing.T) {
	p := Protocol{
		Self:     transport.Proto{ID: 0xF0F2, Name: "desc"},
		Peer:     transport.Proto{ID: 0xF0F2, Name: "desc"},
		Header:   HeaderNone,
		Sends:    SendsOne,
		NoRecv:   true,
		MaxPeers: 1,
	}
	a, b := mustNew(WithProtocol(p), WithMaxPeers(5)), mustNew(WithProtocol(p))
	defer a.Close()
	defer b.Close()
	addr, _ := b.ListenAddr("inproc://" + t.Name())
	if err := a.Dial(addr); err != nil {
		t.Fatal(err)
	}
	if err := a.Dial(addr); !errors.Is(err, ErrTooManyPeers) {
		t.Fatalf("a second peer past MaxPeers 1 (WithMaxPeers(5) cannot raise it): %v", err)
	}
	for name, err := range map[string]error{
		"SendAll": a.SendAll(nil),
		"SendTo":  a.SendTo(Path{1}, nil),
	} {
		if !errors.Is(err, ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := b.RecvInto(nil, nil); !errors.Is(err, ErrInvalidRecvType) {
		t.Errorf("RecvInto on NoRecv: %v", err)
	}
	a.Send([]byte("x"))
	testutil.Eventually(t, "the message to be discarded", func() bool { return b.Stats().Filtered == 1 })
	none := p
	none.Sends = 0
	c := mustNew(WithProtocol(none))
	defer c.Close()
	if err := c.Send(nil); !errors.Is(err, ErrInvalidSendType) {
		t.Errorf("Send with Sends zero: %v", err)
	}
	// A request without its backtrace would make the peer close the pipe.
	req := mustNew(WithProtocol(Protocol{Self: hooked.Self, Peer: hooked.Peer, Header: HeaderRequest, Sends: SendsOne | SendsAll}))
	defer req.Close()
	for name, err := range map[string]error{
		"Send":           req.Send(nil),
		"SendAll":        req.SendAll(nil),
		"SendMsg/no id":  req.SendMsg(&Message{Source: Path{1}}),
		"SendMsg/no src": req.SendMsg(&Message{}),
	} {
		if !errors.Is(err, ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPurge: Purge keeps what keep accepts, oldest first, at most max and
// at most half the queue, and counts the rest as filtered.
func TestPurge(t *testing.T) {
	a, b := newPair(t, WithRecvQueueSize(8))
	defer a.Close()
	defer b.Close()
	for i := range 8 {
		a.Send([]byte{byte(i)})
	}
	testutil.Eventually(t, "the queue to fill", func() bool {
		bs := b.(*sock)
		bs.rq.mu.Lock()
		defer bs.rq.mu.Unlock()
		return bs.rq.n == 8
	})
	even := func(in Incoming) bool { return in.Content[0]%2 == 0 }
	if n := (Core{b.(*sock)}).Purge(even, 100); n != 4 {
		t.Fatalf("purged %d, want 4", n)
	}
	if n := (Core{b.(*sock)}).Purge(even, 1); n != 3 {
		t.Fatalf("purged %d, want 3", n)
	}
	if got, err := b.Recv(); err != nil || got[0] != 0 {
		t.Fatalf("kept %v, %v; want the oldest, 0", got, err)
	}
	if st := b.Stats(); st.Filtered != 7 {
		t.Fatalf("Filtered = %d", st.Filtered)
	}
}

// TestDroppedMessagesDoNotRestartTheTimeout: a peer that keeps sending
// what the handler drops cannot hold a receive past WithRecvTimeout (each
// drop used to start the timeout again).
func TestDroppedMessagesDoNotRestartTheTimeout(t *testing.T) {
	s := mustNew(WithProtocol(hooked), WithRecvTimeout(200*time.Millisecond))
	defer s.Close()
	peer := mustNew(WithProtocol(hookedPeer))
	defer peer.Close()
	addr, _ := peer.ListenAddr("inproc://" + t.Name())
	if err := s.Dial(addr); err != nil {
		t.Fatal(err)
	}
	if err := s.Send([]byte("q")); err != nil {
		t.Fatal(err)
	}
	m, err := peer.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the hostile peer: a dropped answer every 5 ms, well within the timeout
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peer.SendTo(m.Source, []byte("drop"))
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	done := make(chan error, 1)
	go func() { _, err := s.Recv(); done <- err }()
	var got error
	testutil.Eventually(t, "the receive to end at its timeout", func() bool {
		select {
		case got = <-done:
			return true
		default:
			return false
		}
	})
	if !errors.Is(got, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv: %v, want os.ErrDeadlineExceeded", got)
	}
}
