package spstream

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/plexusnet/plexus/transport"
)

// FuzzParseHeader: the handshake decoder accepts exactly the headers
// AppendHeader makes.
func FuzzParseHeader(f *testing.F) {
	f.Add(AppendHeader(nil, 0x30))
	f.Add([]byte("GET / HTTP/1.1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseHeader(b)
		if err != nil {
			if !errors.Is(err, transport.ErrBadHandshake) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if !bytes.Equal(AppendHeader(nil, id), b) {
			t.Fatalf("accepted % x as %#x", b, id)
		}
	})
}

// FuzzReader: the framing reader never panics, never returns a message
// over the limit, and what it returns re-encodes to a prefix of the input.
func FuzzReader(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(frame(FramingTCP, []byte("hello")), false)
	f.Add(frame(FramingIPC, []byte("hello")), true)
	f.Fuzz(func(t *testing.T, in []byte, ipc bool) {
		fr := FramingTCP
		if ipc {
			fr = FramingIPC
		}
		const max = 1 << 16
		p := pipeOver(newByteConn(in), fr, max)
		var out []byte
		for {
			m, err := p.Recv()
			if err != nil {
				if err == io.EOF && !bytes.Equal(out, in) {
					t.Fatalf("clean EOF but %d of %d bytes parsed", len(out), len(in))
				}
				break
			}
			if len(m) > max {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
			out = append(out, frame(fr, m)...)
		}
		if !bytes.HasPrefix(in, out) {
			t.Fatal("messages do not re-encode to the input")
		}
	})
}
