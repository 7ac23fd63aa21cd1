package mesh

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// FuzzLinkHandshake drives a node's link handshake from the dialing side
// with arbitrary control-stream bytes: the node answers (or not) and its
// Attach returns with an error within the handshake timeout; nothing
// panics, hangs or leaks.
func FuzzLinkHandshake(f *testing.F) {
	good := wire.AppendCtrl(nil, wire.MsgHello, wire.AppendHello(nil, wire.Hello{Version: Version, Flags: wire.HelloRelay, ID: 42, Name: DefaultName}))
	f.Add(good)
	f.Add(append(append([]byte{}, good...), wire.AppendCtrl(nil, wire.MsgReady, nil)...))
	f.Add(append(append([]byte{}, good...), wire.AppendCtrl(nil, wire.MsgRefuse, wire.AppendRefuse(nil, uint8(codeLimitBase), "x"))...))
	f.Add(wire.AppendCtrl(nil, wire.MsgRecord, make([]byte, 100)))
	f.Add([]byte{wire.MsgHello, 0xff, 0xff, 0xff, 0xff})
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
		go func() { y.Write(wire.AppendAttach(nil, math.MaxUint64)); close(wrote) }() // we dial
		var pre [wire.AttachLen]byte
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

// FuzzPreface feeds the decoder of the resume preface (readPreface: what
// follows the magic) arbitrary bytes: it never panics, fails only with
// ErrProtocol or ErrVersion, and what it takes is a preface it would
// send, with a window within the protocol's bounds.
func FuzzPreface(f *testing.F) {
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, p := range []preface{
		{kind: prefaceNew, id: id, window: 20 << 20},
		{kind: prefaceNew, id: id, window: minResumeBuffer, secret: [secretLen]byte{0xaa}},
		{kind: prefaceNew, id: id, window: maxResumeBuffer},
		{kind: prefaceNew, id: id, window: maxResumeBuffer + 1},
		{kind: prefaceResume, id: id},
	} {
		f.Add(p.marshal()[len(prefaceMagic):])
	}
	f.Add([]byte{1, prefaceNew})
	f.Add([]byte{prefaceVersion, 'X'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := readPreface(bytes.NewReader(b))
		checkPreface(t, b, p, err, maxResumeBuffer, p.marshal()[len(prefaceMagic):])
	})
}

// checkPreface checks what a preface decoder made of b: an error that is
// ErrProtocol or ErrVersion, or a preface of a known kind, with a window
// within [minResumeBuffer, maxWindow], whose encoding (enc, without the
// magic) is what was read.
func checkPreface(t *testing.T, b []byte, p preface, err error, maxWindow uint32, enc []byte) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrVersion) {
			t.Fatalf("error %v is neither ErrProtocol nor ErrVersion", err)
		}
		return
	}
	switch p.kind {
	case prefaceNew:
		if p.window < minResumeBuffer || p.window > maxWindow {
			t.Fatalf("window %d taken", p.window)
		}
	case prefaceResume:
	default:
		t.Fatalf("kind %#x taken", p.kind)
	}
	if len(enc) > len(b) || !bytes.Equal(enc, b[:len(enc)]) {
		t.Fatalf("read %x, which encodes back as %x", b, enc)
	}
}

// FuzzPrefaceAnswer feeds the decoder of the acceptor's answer
// (readAnswer) arbitrary bytes, for either kind of preface and any window
// offered: it never panics, fails only with ErrProtocol, and a new link's
// window taken lies within [the least window, the window offered].
func FuzzPrefaceAnswer(f *testing.F) {
	win := func(st byte, w uint32) []byte { return binary.BigEndian.AppendUint32([]byte{st}, w) }
	f.Add(win(statusOK, 20<<20), true, uint32(20<<20))
	f.Add(win(statusOK, minResumeBuffer), true, uint32(maxResumeBuffer))
	f.Add(win(statusOK, maxResumeBuffer), true, uint32(20<<20))
	f.Add(win(statusOK, 0), true, uint32(20<<20))
	f.Add([]byte{statusOK, 1}, true, uint32(20<<20))
	f.Add([]byte{statusRefused}, true, uint32(20<<20))
	f.Add([]byte{statusOK}, false, uint32(0))
	f.Add([]byte{statusUnknown}, false, uint32(0))
	f.Add([]byte{}, false, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, isNew bool, offered uint32) {
		kind := byte(prefaceResume)
		if isNew {
			kind = prefaceNew
		}
		r := bytes.NewReader(b)
		st, w, err := readAnswer(r, kind, offered)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		read := b[:len(b)-r.Len()]
		if kind == prefaceNew && st == statusOK {
			if w < minResumeBuffer || w > offered {
				t.Fatalf("window %d taken, offered %d", w, offered)
			}
		} else if w != 0 {
			t.Fatalf("status %d of kind %c has window %d", st, kind, w)
		}
		if m := appendAnswer(nil, kind, st, w); !bytes.Equal(m, read) {
			t.Fatalf("read %x, which appends back as %x", read, m)
		}
	})
}

// FuzzCircuitPreface feeds the decoder of the circuit preface
// (readCircuitPreface: what follows the magic) arbitrary bytes: it never
// panics, fails only with ErrProtocol or ErrVersion, and what it takes is
// a preface the source would send, with a window within the bounds.
func FuzzCircuitPreface(f *testing.F) {
	const maxWin = 5 << 20
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, p := range []circuitPreface{
		{kind: prefaceNew, id: id, window: maxWin},
		{kind: prefaceNew, id: id, window: minResumeBuffer, secret: [secretLen]byte{0xaa}},
		{kind: prefaceNew, id: id, window: maxWin + 1},
		{kind: prefaceResume, id: id},
	} {
		f.Add(p.appendTo(nil)[len(circuitMagic):])
	}
	f.Add([]byte{circuitVersion, 'X'})
	f.Add([]byte{2, prefaceNew})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := readCircuitPreface(bytes.NewReader(b), maxWin)
		checkPreface(t, b, p, err, maxWin, p.appendTo(nil)[len(circuitMagic):])
	})
}
