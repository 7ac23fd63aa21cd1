package wire

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// FuzzHello: a hello decodes or is refused, never panics, and what decodes
// survives a round trip.
func FuzzHello(f *testing.F) {
	f.Add(AppendHello(nil, Hello{Version: Version, Flags: HelloRelay, ID: 1, Name: "plexus"})) // mesh's DefaultName
	f.Add(AppendHello(nil, Hello{Version: 2, ID: 1, Name: "x"}))
	f.Add([]byte("PXMH\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err != nil {
			if !errors.Is(err, base.ErrProtocol) && !errors.Is(err, base.ErrVersion) {
				t.Fatalf("error %v is neither ErrProtocol nor ErrVersion", err)
			}
			return
		}
		if !bytes.Equal(AppendHello(nil, h), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

// FuzzStreamHeader: a stream header (connection or circuit setup) is read
// exactly (not a byte more, as a stream gives it in one piece or a byte at
// a time), or refused with a mesh error; a setup that passes the path
// rules names this node at its hop.
func FuzzStreamHeader(f *testing.F) {
	f.Add(AppendConnHeader(nil, KindConn, ConnHeader{Port: 80, Env: "staging", Name: "billing"}))
	f.Add(AppendConnHeader(nil, KindConn, ConnHeader{Port: 1}))
	f.Add(AppendConnHeader(nil, KindConnEarly, ConnHeader{Port: 8080, Name: "web"}))
	f.Add(AppendSetupHeader(nil, SetupHeader{Hop: 1, Path: []uint64{1, 2, 3}}))
	f.Add(AppendSetupHeader(nil, SetupHeader{Hop: 1, Path: []uint64{1, 2, 1}}))
	f.Add([]byte{KindCircuit, 1, 255})
	f.Add(AppendDialBack(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, err := ReadHeader(r, 17, nil)
		if err != nil {
			return
		}
		used := b[:len(b)-r.Len()]
		slow := bytes.NewReader(b)
		h2, err := ReadHeader(iotest.OneByteReader(slow), 17, new(HeaderBuf))
		if err != nil || slow.Len() != r.Len() || h2.Kind != h.Kind || h2.Conn != h.Conn || !slices.Equal(h2.Setup.Path, h.Setup.Path) || h2.Setup.Hop != h.Setup.Hop {
			t.Fatalf("read a byte at a time: %+v %v, %d left; at once: %+v, %d left", h2, err, slow.Len(), h, r.Len())
		}
		var again []byte
		switch h.Kind {
		case KindConn, KindConnEarly:
			again = AppendConnHeader(nil, h.Kind, h.Conn)
		case KindDialBack:
			again = AppendDialBack(nil)
		case KindCircuit:
			again = AppendSetupHeader(nil, h.Setup)
			if err := CheckSetup(h.Setup, 2, 1, 16); err == nil {
				if h.Setup.Path[h.Setup.Hop] != 2 || h.Setup.Path[h.Setup.Hop-1] != 1 {
					t.Fatal("CheckSetup passed a setup not for us")
				}
			}
		}
		if !bytes.Equal(again, used) {
			t.Fatalf("read %x, re-encoded %x", used, again)
		}
	})
}
