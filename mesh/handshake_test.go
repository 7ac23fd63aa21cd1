package mesh

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"testing"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// fakePeer attaches a hand-driven peer to n over a pipe: it plays the
// dialing side when dialer is set. It returns the peer's control stream
// and the channel where n's Attach reports.
func fakePeer(t testing.TB, n *Node, dialer bool) (*mux.Stream, func() error) {
	t.Helper()
	x, y := net.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- n.Attach(x) }()
	nonce := uint64(0)
	if dialer {
		nonce = math.MaxUint64
	}
	wrote := make(chan struct{})
	go func() { y.Write(wire.AppendAttach(nil, nonce)); close(wrote) }()
	var pre [wire.AttachLen]byte
	if _, err := io.ReadFull(y, pre[:]); err != nil {
		t.Fatal(err)
	}
	<-wrote // before mux writes its preface
	var sess *mux.Session
	var st *mux.Stream
	var err error
	if dialer {
		sess, _ = mux.Client(y, fakeLinkCfg)
		st, err = sess.OpenStream(context.Background())
	} else {
		sess, _ = mux.Server(y, fakeLinkCfg)
		st, err = sess.AcceptStream(ctxT(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var attachErr error
	wait := func() error {
		once.Do(func() { attachErr = <-errc })
		return attachErr
	}
	t.Cleanup(func() { sess.Close(); wait() })
	return st, wait
}

// fakeLinkCfg is the mux configuration of a hand-driven peer's link
// session: with a class, for connections.
var fakeLinkCfg = &mux.Config{ClassWindow: DefaultLinkConnWindow}

func TestVersionMismatchRefusedOnBothSides(t *testing.T) {
	for _, dialer := range []bool{true, false} {
		n := newNode(t)
		st, errc := fakePeer(t, n, dialer)
		h := wire.AppendHello(nil, wire.Hello{Version: Version + 1, ID: 99, Name: DefaultName})
		if dialer {
			st.Write(wire.AppendCtrl(nil, wire.MsgHello, h))
		} else {
			// n dials: it speaks first.
			typ, _, err := wire.ReadCtrl(st, 1024)
			if err != nil || typ != wire.MsgHello {
				t.Fatalf("n's first message: %d %v", typ, err)
			}
			st.Write(wire.AppendCtrl(nil, wire.MsgHello, h))
		}
		typ, body, err := wire.ReadCtrl(st, 1024)
		if err != nil || typ != wire.MsgRefuse {
			t.Fatalf("dialer=%v: answer %d %v, want a refusal", dialer, typ, err)
		}
		c, reason, err := wire.ParseRefuse(body)
		if err != nil || code(c) != codeVersion {
			t.Fatalf("refusal code %v %v", c, err)
		}
		t.Logf("the peer reads: %s", reason)
		if err := errc(); !errors.Is(err, ErrVersion) {
			t.Fatalf("n's Attach: %v, want ErrVersion", err)
		}
		t.Logf("n says: %v", errc())
	}
}

func TestHandshakeGarbageRefused(t *testing.T) {
	n := newNode(t)
	st, errc := fakePeer(t, n, true)
	st.Write(wire.AppendCtrl(nil, wire.MsgHello, []byte("GARBAGE!")))
	typ, body, err := wire.ReadCtrl(st, 1024)
	if err != nil || typ != wire.MsgRefuse {
		t.Fatalf("answer %d %v", typ, err)
	}
	if c, _, _ := wire.ParseRefuse(body); code(c) != codeProtocol {
		t.Fatalf("code %v", c)
	}
	if err := errc(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Attach: %v", err)
	}
}
