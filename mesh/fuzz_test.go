package mesh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// FuzzHello: a hello decodes or is refused, never panics, and what decodes
// survives a round trip.
func FuzzHello(f *testing.F) {
	f.Add(appendHello(nil, hello{version: Version, flags: helloRelay, id: 1, name: DefaultName}))
	f.Add(appendHello(nil, hello{version: 2, id: 1, name: "x"}))
	f.Add([]byte("PXMH\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHello(b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v is neither ErrProtocol nor ErrVersion", err)
			}
			return
		}
		if !bytes.Equal(appendHello(nil, h), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

// FuzzLinkHandshake drives a node's link handshake from the dialing side
// with arbitrary control-stream bytes: the node answers (or not) and its
// Attach returns with an error within the handshake timeout; nothing
// panics, hangs or leaks.
func FuzzLinkHandshake(f *testing.F) {
	good := appendCtrl(nil, msgHello, appendHello(nil, hello{version: Version, flags: helloRelay, id: 42, name: DefaultName}))
	f.Add(good)
	f.Add(append(append([]byte{}, good...), appendCtrl(nil, msgReady, nil)...))
	f.Add(append(append([]byte{}, good...), appendCtrl(nil, msgRefuse, appendRefuse(nil, codeLimitBase, "x"))...))
	f.Add(appendCtrl(nil, msgRecord, make([]byte, 100)))
	f.Add([]byte{msgHello, 0xff, 0xff, 0xff, 0xff})
	n, err := New(WithInsecure(), WithLimits(Limits{HandshakeTimeout: 2 * time.Second}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		x, y := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- n.Attach(x) }()
		wrote := make(chan struct{})
		go func() { y.Write(appendAttach(nil, math.MaxUint64)); close(wrote) }() // we dial
		var pre [attachLen]byte
		if _, err := io.ReadFull(y, pre[:]); err != nil {
			t.Fatal(err)
		}
		<-wrote // before mux writes its preface
		sess, _ := mux.Client(y, nil)
		defer sess.Close()
		st, err := sess.OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		st.Write(b)
		st.CloseWrite()
		st.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, st)
		sess.Close()
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("Attach did not return")
		}
	})
}

// FuzzRecord: a record decodes or is refused with ErrBadRecord (or a
// limit); what decodes re-encodes to the same bytes, and the routing
// state machine takes it without panicking.
func FuzzRecord(f *testing.F) {
	for _, r := range []*record{
		{id: 1, seq: 2, expiry: 3},
		{id: 9, seq: 1 << 60, expiry: 1 << 50, relay: true, neighbours: []uint64{1, 2, 3},
			services: []serviceEntry{{env: "", name: "billing", port: 80}, {env: "staging", name: "x", port: 1}}},
		{id: 5, seq: 1, expiry: 1, cert: []byte("not a certificate"), sig: []byte("sig")},
	} {
		raw, _ := encodeRecord(r, nil)
		if r.sig != nil {
			raw = append(raw[:len(raw)-2], 0, byte(len(r.sig)))
			raw = append(raw, r.sig...)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b, 16)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) && !errors.Is(err, ErrLimit) {
				t.Fatalf("error %v is neither ErrBadRecord nor ErrLimit", err)
			}
			return
		}
		again := appendRecordBody(nil, r)
		if len(again) != r.signedLen || !bytes.Equal(again, b[:r.signedLen]) {
			t.Fatalf("round trip of %x: %x", b, again)
		}
		rt := testRouter(77, true)
		rt.linkUp(r.id, t0)
		now := time.UnixMilli(r.expiry).Add(-time.Minute)
		rt.receive(r, b, r.id, now)
		rt.routes()
		rt.reachable(func(uint64, []serviceEntry, int) {})
		rt.tick(now.Add(time.Hour))
	})
}

// FuzzStreamHeader: a stream header (connection or circuit setup) is read
// exactly (not a byte more, as a stream gives it in one piece or a byte at
// a time), or refused with a mesh error; a setup that passes the path
// rules names this node at its hop.
func FuzzStreamHeader(f *testing.F) {
	f.Add(appendConnHeader(nil, kindConn, connHeader{port: 80, env: "staging", name: "billing"}))
	f.Add(appendConnHeader(nil, kindConn, connHeader{port: 1}))
	f.Add(appendConnHeader(nil, kindConnEarly, connHeader{port: 8080, name: "web"}))
	f.Add(appendSetupHeader(nil, setupHeader{hop: 1, path: []uint64{1, 2, 3}}))
	f.Add(appendSetupHeader(nil, setupHeader{hop: 1, path: []uint64{1, 2, 1}}))
	f.Add([]byte{kindCircuit, 1, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, err := readHeader(r, 17)
		if err != nil {
			return
		}
		used := b[:len(b)-r.Len()]
		slow := bytes.NewReader(b)
		h2, err := readHeader(iotest.OneByteReader(slow), 17)
		if err != nil || slow.Len() != r.Len() || h2.kind != h.kind || h2.conn != h.conn || !slices.Equal(h2.setup.path, h.setup.path) || h2.setup.hop != h.setup.hop {
			t.Fatalf("read a byte at a time: %+v %v, %d left; at once: %+v, %d left", h2, err, slow.Len(), h, r.Len())
		}
		var again []byte
		switch h.kind {
		case kindConn, kindConnEarly:
			again = appendConnHeader(nil, h.kind, h.conn)
		case kindCircuit:
			again = appendSetupHeader(nil, h.setup)
			if err := checkSetup(h.setup, 2, 1, 16); err == nil {
				if h.setup.path[h.setup.hop] != 2 || h.setup.path[h.setup.hop-1] != 1 {
					t.Fatal("checkSetup passed a setup not for us")
				}
			}
		}
		if !bytes.Equal(again, used) {
			t.Fatalf("read %x, re-encoded %x", used, again)
		}
	})
}
