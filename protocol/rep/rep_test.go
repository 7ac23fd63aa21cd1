package rep_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/prototest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
	"github.com/plexusnet/plexus/transport/spstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStateErrors(t *testing.T) {
	r := prototest.Open(t, rep.New)
	if err := r.Send([]byte("x")); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("send with no request: %v", err)
	}
	if err := r.SendMsg(&socket.Message{Content: []byte("x")}); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("SendMsg with no request: %v", err)
	}
	if err := r.SendAll([]byte("x")); !errors.Is(err, socket.ErrInvalidSendType) {
		t.Fatalf("SendAll: %v", err)
	}
}

// TestSendAnswersLast: Send answers the last request received, once.
func TestSendAnswersLast(t *testing.T) {
	r := prototest.Open(t, rep.New)
	addr, _ := r.ListenAddr("inproc://rep-last")
	q := prototest.Open(t, req.New)
	if err := q.Dial(addr); err != nil {
		t.Fatal(err)
	}
	q.Send([]byte("one"))
	if b, err := r.Recv(); err != nil || string(b) != "one" {
		t.Fatal(string(b), err)
	}
	if err := r.Send([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if err := r.Send([]byte("again")); !errors.Is(err, socket.ErrBadState) {
		t.Fatalf("second answer: %v", err)
	}
	if b, err := q.Recv(); err != nil || string(b) != "answer" {
		t.Fatal(string(b), err)
	}
}

// TestReplyToGoneRequester: the requester leaves before its answer; the
// answer fails with ErrBrokenPath and never reaches the next requester.
func TestReplyToGoneRequester(t *testing.T) {
	r := prototest.Open(t, rep.New)
	addr, _ := r.ListenAddr("tcp://127.0.0.1:0")
	q1, _ := req.New()
	if err := q1.Dial(addr); err != nil {
		t.Fatal(err)
	}
	q1.Send([]byte("first"))
	old, err := r.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	q1.Close()
	testutil.Eventually(t, "the requester gone", func() bool { return r.Stats().Pipes == 0 })
	q2 := prototest.Open(t, req.New)
	if err := q2.Dial(addr); err != nil {
		t.Fatal(err)
	}
	if err := r.SendTo(old.Source, []byte("for first")); !errors.Is(err, socket.ErrBrokenPath) {
		t.Fatalf("answer to a gone requester: %v", err)
	}
	q2.Send([]byte("second"))
	m, _ := r.RecvMsg()
	r.SendTo(m.Source, []byte("for second"))
	if b, err := q2.Recv(); err != nil || string(b) != "for second" {
		t.Fatal(string(b), err)
	}
}

// TestHopLimit: a request that has crossed more devices than the TTL
// allows is dropped and counted.
func TestHopLimit(t *testing.T) {
	r := prototest.Open(t, rep.NewRaw, socket.WithSendTTL(2))
	addr, _ := r.ListenAddr("inproc://hops")
	q := prototest.Open(t, req.NewRaw)
	if err := q.Dial(addr); err != nil {
		t.Fatal(err)
	}
	q.SendMsg(&socket.Message{Source: socket.Path{1, 2, 0x80000003}, Content: []byte("far")})
	q.SendMsg(&socket.Message{Source: socket.Path{0x80000004}, Content: []byte("near")})
	m, err := r.RecvMsg()
	if err != nil || string(m.Content) != "near" {
		t.Fatal(m, err)
	}
	if st := r.Stats(); st.TTLDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// --- interop with NNG's nngcat ---

// TestNNGReq: a plexus rep against nngcat --req, plexus dialing and
// listening, over tcp, ipc and ws. nngcat sends one request per run: with
// --count and no --interval it fails on its own ("Cannot set recv
// timeout") as soon as a reply takes a millisecond.
func TestNNGReq(t *testing.T) {
	const n = 1
	for _, scheme := range []string{"tcp", "ipc", "ws"} {
		for _, plexusDials := range []bool{true, false} {
			name := scheme + "/plexus-listens"
			if plexusDials {
				name = scheme + "/plexus-dials"
			}
			t.Run(name, func(t *testing.T) {
				r := prototest.Open(t, rep.New)
				var lines <-chan string
				args := []string{"--req", "--data", "ping", "-Q"}
				if plexusDials {
					lines, _ = testutil.ListenCommand(t, "nngcat", scheme, args, r.Dial)
				} else {
					addr, err := r.ListenAddr(testutil.FreeURL(t, scheme))
					if err != nil {
						t.Fatal(err)
					}
					lines = testutil.Command(t, "nngcat", append(args, "--dial", addr)...)
				}
				for i := 0; i < n; i++ {
					m, err := r.RecvMsg()
					if err != nil || string(m.Content) != "ping" {
						t.Fatalf("request %q %v", m.Content, err)
					}
					if len(m.Source) != 2 || m.Source[1]&socket.EndOfPath == 0 {
						t.Fatalf("NNG backtrace %v", m.Source)
					}
					if err := r.Send([]byte(fmt.Sprint("pong ", i))); err != nil {
						t.Fatal(err)
					}
					if l := testutil.Line(t, lines); l != fmt.Sprintf("%q", fmt.Sprint("pong ", i)) {
						t.Fatalf("nngcat printed %s", l)
					}
				}
			})
		}
	}
}

// TestSlowRequesterStallsNobody: a requester that floods requests and
// never reads its replies does not stall a rep server that answers with
// the README's loop (RecvMsg, then SendTo): once that requester's queue
// is full its replies fail at once with socket.ErrPeerFull, counted, and
// a well-behaved client keeps getting its answers.
func TestSlowRequesterStallsNobody(t *testing.T) {
	// No linger on Close: the flooder would never take what is queued.
	srv := prototest.Open(t, rep.New, socket.WithSendStopTimeout(0))
	addr, err := srv.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 32<<10) // big replies fill the kernel's buffers soon
	loopErrs := make(chan error, 1)
	var peerFull, ok atomic.Int64 // read while the loop runs
	go func() {
		for {
			m, err := srv.RecvMsg()
			if err != nil {
				loopErrs <- nil
				return
			}
			switch err := srv.SendTo(m.Source, reply); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, socket.ErrPeerFull) && errors.Is(err, socket.ErrMsgDropped):
				peerFull.Add(1)
			default:
				loopErrs <- err
				return
			}
		}
	}()

	// The flooder: a raw req peer that sends thousands of requests and
	// never reads.
	u, _ := transport.ParseURL(addr)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	flood, err := spstream.Open(context.Background(), conn, &transport.Config{Self: req.Protocol.Self, Peer: req.Protocol.Peer}, spstream.FramingTCP)
	if err != nil {
		t.Fatal(err)
	}
	const requests = 3000
	var batch []byte
	for i := 0; i < requests; i++ {
		batch = transport.AppendFrame(batch, binary.BigEndian.AppendUint32(nil, uint32(i)|socket.EndOfPath))
	}
	if err := flood.Send(batch); err != nil {
		t.Fatal(err)
	}

	// A good client keeps getting answers.
	good := prototest.Open(t, req.New)
	if err := good.Dial(addr); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := good.Send([]byte(fmt.Sprint("hello ", i))); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // generous
		b, err := good.RecvContext(ctx)
		cancel()
		if err != nil || len(b) != len(reply) {
			t.Fatalf("good client, request %d: %d bytes, %v (server stats %+v)", i, len(b), err, srv.Stats())
		}
	}
	// Every request answered or refused: only then are the loop's counts
	// and the socket's comparable.
	testutil.Eventually(t, "the server to answer all the flood", func() bool {
		return ok.Load()+peerFull.Load() >= requests+20
	})
	st := srv.Stats()
	srv.Close()
	if err := <-loopErrs; err != nil {
		t.Fatalf("the server loop failed: %v", err)
	}
	t.Logf("replies sent %d, refused with ErrPeerFull %d; stats %+v", ok.Load(), peerFull.Load(), st)
	if n := peerFull.Load(); n == 0 || st.PeerFull != uint64(n) || st.Dropped < st.PeerFull {
		t.Fatalf("%d replies refused, stats %+v", n, st)
	}
}
