package mesh

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"testing"

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
	go func() { y.Write(appendAttach(nil, nonce)); close(wrote) }()
	var pre [attachLen]byte
	if _, err := io.ReadFull(y, pre[:]); err != nil {
		t.Fatal(err)
	}
	<-wrote // before mux writes its preface
	var sess *mux.Session
	var st *mux.Stream
	var err error
	if dialer {
		sess, _ = mux.Client(y, nil)
		st, err = sess.OpenStream(context.Background())
	} else {
		sess, _ = mux.Server(y, nil)
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

func TestVersionMismatchRefusedOnBothSides(t *testing.T) {
	for _, dialer := range []bool{true, false} {
		n := newNode(t)
		st, errc := fakePeer(t, n, dialer)
		h := appendHello(nil, hello{version: 2, id: 99, name: DefaultName})
		if dialer {
			st.Write(appendCtrl(nil, msgHello, h))
		} else {
			// n dials: it speaks first.
			typ, _, err := readCtrl(st, 1024)
			if err != nil || typ != msgHello {
				t.Fatalf("n's first message: %d %v", typ, err)
			}
			st.Write(appendCtrl(nil, msgHello, h))
		}
		typ, body, err := readCtrl(st, 1024)
		if err != nil || typ != msgRefuse {
			t.Fatalf("dialer=%v: answer %d %v, want a refusal", dialer, typ, err)
		}
		c, reason, err := parseRefuse(body)
		if err != nil || c != codeVersion {
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
	st.Write(appendCtrl(nil, msgHello, []byte("GARBAGE!")))
	typ, body, err := readCtrl(st, 1024)
	if err != nil || typ != msgRefuse {
		t.Fatalf("answer %d %v", typ, err)
	}
	if c, _, _ := parseRefuse(body); c != codeProtocol {
		t.Fatalf("code %v", c)
	}
	if err := errc(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Attach: %v", err)
	}
}

func TestHelloRoundTrip(t *testing.T) {
	h := hello{version: Version, flags: helloRelay, id: 0xdeadbeef, name: "prod"}
	got, err := parseHello(appendHello(nil, h))
	if err != nil || got != h {
		t.Fatalf("got %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("PXMH"), appendHello(nil, hello{version: Version, id: 0, name: "x"}), appendHello(nil, hello{version: Version, id: 1, name: ""}), append(appendHello(nil, h), 0)} {
		if _, err := parseHello(bad); err == nil {
			t.Errorf("parseHello(%x) succeeded", bad)
		}
	}
}

// TestHelloWireExample checks the example of docs/protocol.md.
func TestHelloWireExample(t *testing.T) {
	got := appendCtrl(nil, msgHello, appendHello(nil, hello{version: 1, flags: helloRelay, id: 0xaa, name: "prod"}))
	want := []byte{0x01, 0, 0, 0, 0x13, 'P', 'X', 'M', 'H', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0xaa, 4, 'p', 'r', 'o', 'd'}
	if string(got) != string(want) {
		t.Fatalf("% x", got)
	}
}
