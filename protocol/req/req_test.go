package req_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRequestReply(t *testing.T) {
	for _, url := range []string{"inproc://reqrep", "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/rr.sock"} {
		t.Run(url[:3], func(t *testing.T) {
			r := prototest.Open(t, rep.New)
			addr, err := r.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			q := prototest.Open(t, req.New)
			if err := q.Dial(addr); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 50; i++ {
				if err := q.Send([]byte(fmt.Sprint("ping ", i))); err != nil {
					t.Fatal(err)
				}
				m, err := r.RecvMsg()
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Source) != 2 || m.Source[1]&socket.EndOfPath == 0 {
					t.Fatalf("backtrace %v", m.Source)
				}
				if err := r.Send(append([]byte("pong "), m.Content[5:]...)); err != nil {
					t.Fatal(err)
				}
				b, err := q.Recv()
				if err != nil || string(b) != fmt.Sprint("pong ", i) {
					t.Fatalf("%q %v", b, err)
				}
			}
		})
	}
}

func TestStateErrors(t *testing.T) {
	q := prototest.Open(t, req.New)
	if _, err := q.Recv(); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("recv with nothing outstanding: %v", err)
	}
	for name, err := range map[string]error{
		"SendAll": q.SendAll(nil),
		"SendTo":  q.SendTo(socket.Path{1}, nil),
	} {
		if !errors.Is(err, socket.ErrInvalidSendType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	q.Close()
	if err := q.Send(nil); !errors.Is(err, socket.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := q.Recv(); !errors.Is(err, socket.ErrClosed) {
		t.Fatal(err)
	}
}

func TestMismatch(t *testing.T) {
	a := prototest.Open(t, req.New)
	addr, _ := a.ListenAddr("tcp://127.0.0.1:0")
	b := prototest.Open(t, req.New)
	if err := b.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
		t.Fatalf("req to req: %v", err)
	}
	raw := prototest.Open(t, socket.New)
	if err := raw.Dial(addr); !errors.Is(err, socket.ErrProtocolMismatch) {
		t.Fatalf("raw to req: %v", err)
	}
}

// TestResend: a request that is not answered is sent again after the
// resend interval; a late reply to the first copy is not returned twice.
func TestResend(t *testing.T) {
	r := prototest.Open(t, rep.New)
	addr, _ := r.ListenAddr("inproc://resend")
	q := prototest.Open(t, req.New, req.WithResendInterval(10*time.Millisecond))
	if err := q.Dial(addr); err != nil {
		t.Fatal(err)
	}
	q.Send([]byte("again"))
	first, err := r.RecvMsg() // ignored
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if string(second.Content) != "again" || first.Source.String() != second.Source.String() {
		t.Fatalf("resend %q %v, first %v", second.Content, second.Source, first.Source)
	}
	r.SendTo(second.Source, []byte("answer"))
	if b, err := q.Recv(); err != nil || string(b) != "answer" {
		t.Fatal(string(b), err)
	}
	r.SendTo(first.Source, []byte("duplicate"))
	if _, err := q.Recv(); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("a duplicate reply was returned: %v", err)
	}
}

// TestResendOnPeerLoss: the request goes to a replier that dies without
// answering; it is sent again at once to the other one, long before the
// resend interval.
func TestResendOnPeerLoss(t *testing.T) {
	q := prototest.Open(t, req.New, req.WithResendInterval(time.Hour))
	reps := make([]socket.Socket, 2)
	for i := range reps {
		reps[i] = prototest.Open(t, rep.New)
		addr, _ := reps[i].ListenAddr(fmt.Sprint("inproc://peerloss-", i))
		if err := q.Dial(addr); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "two peers", func() bool { return q.Stats().Pipes == 2 })
	q.Send([]byte("who answers?"))
	got := make(chan int, 2)
	for i, r := range reps {
		go func() {
			if _, err := r.RecvMsg(); err == nil {
				got <- i
			}
		}()
	}
	dead := <-got
	reps[dead].Close() // dies without answering
	alive := reps[1-dead]
	if i := <-got; i != 1-dead {
		t.Fatal("the request did not move to the other replier")
	}
	if err := alive.Send([]byte("me")); err != nil {
		t.Fatal(err)
	}
	if b, err := q.Recv(); err != nil || string(b) != "me" {
		t.Fatal(string(b), err)
	}
}

// TestDevice: clients and servers meet through an NNG-style device (a raw
// rep in front, a raw req at the back, a switch between); every reply
// reaches the client that asked.
func TestDevice(t *testing.T) {
	front := prototest.Open(t, rep.NewRaw)
	back := prototest.Open(t, req.NewRaw)
	frontAddr, _ := front.ListenAddr("tcp://127.0.0.1:0")
	backAddr, _ := back.ListenAddr("ipc://" + t.TempDir() + "/dev.sock")
	sw := socket.StartSwitch(back, front, nil)
	defer sw.Stop()

	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		s := prototest.Open(t, rep.New)
		if err := s.Dial(backAddr); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := s.RecvMsg()
				if err != nil {
					return
				}
				if len(m.Source) != 3 {
					t.Errorf("backtrace through the device: %v", m.Source)
				}
				s.SendTo(m.Source, append([]byte("re "), m.Content...))
			}
		}()
	}
	for c := 0; c < 5; c++ {
		q := prototest.Open(t, req.New)
		if err := q.Dial(frontAddr); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			msg := fmt.Sprint(c, "/", i)
			q.Send([]byte(msg))
			if b, err := q.Recv(); err != nil || string(b) != "re "+msg {
				t.Fatalf("client %d: %q %v", c, b, err)
			}
		}
	}
	front.Close()
	back.Close()
}

// TestConcurrentRequests: many goroutines share one req socket; every
// reply comes back exactly once.
func TestConcurrentRequests(t *testing.T) {
	r := prototest.Open(t, rep.New)
	addr, _ := r.ListenAddr("inproc://concurrent")
	go func() {
		for {
			m, err := r.RecvMsg()
			if err != nil {
				return
			}
			r.SendTo(m.Source, m.Content)
		}
	}()
	q := prototest.Open(t, req.New)
	if err := q.Dial(addr); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.Send([]byte(fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for len(seen) < n {
		b, err := q.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(b)] {
			t.Fatalf("reply %s twice", b)
		}
		seen[string(b)] = true
	}
}

// --- interop with NNG's nngcat ---

// TestNNGRep: a plexus req against nngcat --rep, plexus dialing and
// listening, over tcp, ipc and ws.
func TestNNGRep(t *testing.T) {
	for _, scheme := range []string{"tcp", "ipc", "ws"} {
		for _, plexusDials := range []bool{true, false} {
			name := scheme + "/plexus-listens"
			if plexusDials {
				name = scheme + "/plexus-dials"
			}
			t.Run(name, func(t *testing.T) {
				q := prototest.Open(t, req.New, req.WithResendInterval(time.Second))
				var lines <-chan string
				if plexusDials {
					lines, _ = testutil.ListenCommand(t, "nngcat", scheme, []string{"--rep", "--data", "pong", "-Q"}, q.Dial)
				} else {
					addr, err := q.ListenAddr(testutil.FreeURL(t, scheme))
					if err != nil {
						t.Fatal(err)
					}
					lines = testutil.Command(t, "nngcat", "--rep", "--dial", addr, "--data", "pong", "-Q")
				}
				for i := 0; i < 3; i++ {
					if err := q.Send([]byte(fmt.Sprint("ping ", i))); err != nil {
						t.Fatal(err)
					}
					b, err := q.Recv()
					if err != nil || string(b) != "pong" {
						t.Fatalf("reply %q %v", b, err)
					}
					if l := testutil.Line(t, lines); l != fmt.Sprintf("%q", fmt.Sprint("ping ", i)) {
						t.Fatalf("nngcat printed %s", l)
					}
				}
			})
		}
	}
}

// TestResendOnlyLostRequests: when one of two repliers goes away without
// answering, only the requests it held are sent again, to the other; the
// requests the other already holds are not duplicated.
func TestResendOnlyLostRequests(t *testing.T) {
	q := prototest.Open(t, req.New, req.WithResendInterval(time.Hour))
	reps := make([]socket.Socket, 2)
	for i := range reps {
		reps[i] = prototest.Open(t, rep.New)
		addr, _ := reps[i].ListenAddr(fmt.Sprint("inproc://resend-only-lost-", i))
		if err := q.Dial(addr); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "two peers", func() bool { return q.Stats().Pipes == 2 })
	// Each replier collects the request ids it receives.
	type got struct {
		rep int
		id  uint32
	}
	ids := make(chan got, 1000)
	for i, r := range reps {
		go func() {
			for {
				m, err := r.RecvMsg()
				if err != nil {
					return
				}
				ids <- got{i, m.Source[len(m.Source)-1]}
			}
		}()
	}
	const n = 20
	held := [2]map[uint32]bool{{}, {}}
	for i := 0; i < n; i++ {
		if err := q.Send([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		g := <-ids // one at a time, so that they spread over both
		held[g.rep][g.id] = true
	}
	if len(held[0]) == 0 || len(held[1]) == 0 {
		t.Skipf("the requests did not spread over both repliers: %d and %d", len(held[0]), len(held[1]))
	}
	reps[0].Close() // leaves without answering
	alive := held[1]
	want := len(held[0]) + len(held[1])
	for len(alive) < want {
		select {
		case g := <-ids:
			if g.rep != 1 || alive[g.id] {
				t.Fatalf("replier %d got request %#x again (it holds %d, the lost one held %d)", g.rep, g.id, len(held[1]), len(held[0]))
			}
			if !held[0][g.id] {
				t.Fatalf("request %#x was never sent before", g.id)
			}
			alive[g.id] = true
		case <-time.After(testutil.Patience):
			t.Fatalf("the lost requests were not resent: %d of %d", len(alive), want)
		}
	}
	// Nothing more comes: no duplicate of what the remaining replier held.
	select {
	case g := <-ids:
		t.Fatalf("replier %d got request %#x twice", g.rep, g.id)
	case <-time.After(200 * time.Millisecond):
	}
	// Close the requester first: were the replier closed first, its
	// requests would be resent to nobody, and Close would linger.
	q.Close()
}

// TestOptionChecked: req's option is an error on any other socket,
// the raw req included, and says so.
func TestOptionChecked(t *testing.T) {
	for name, newSocket := range map[string]func(...socket.Option) (socket.Socket, error){
		"rep": rep.New, "raw req": req.NewRaw, "plexus": socket.New,
	} {
		s, err := newSocket(req.WithResendInterval(time.Second))
		if !errors.Is(err, socket.ErrBadOption) || s != nil {
			t.Errorf("%s: %v", name, err)
		} else if !strings.Contains(err.Error(), "req.WithResendInterval is not an option of a "+name+" socket") {
			t.Errorf("%s: %q does not say what", name, err)
		}
	}
	if _, err := req.New(socket.WithProtocol(rep.Protocol)); !errors.Is(err, socket.ErrBadOption) {
		t.Errorf("req.New with another protocol: %v", err)
	}
	if _, err := req.New(socket.WithSendMode(socket.SendToAll)); !errors.Is(err, socket.ErrBadOption) {
		t.Errorf("req.New sending to all: %v", err)
	}
}
