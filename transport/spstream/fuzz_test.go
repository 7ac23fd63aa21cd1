package spstream

import (
	"bytes"
	"errors"
	"io"
	"os"
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

// chunkConn is a net.Conn that reads in from a byte string in pieces the
// fuzzer chose: each byte of cuts is the size of one read, and a zero is
// an interrupted read instead. Once cuts run out, reads take all they can.
type chunkConn struct {
	byteConn
	in   []byte
	cuts []byte
	p    *Pipe
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := len(b)
	if len(c.cuts) > 0 {
		cut := int(c.cuts[0])
		c.cuts = c.cuts[1:]
		if cut == 0 {
			c.p.Interrupt()
			return 0, os.ErrDeadlineExceeded
		}
		n = min(n, cut)
	}
	n = copy(b[:n], c.in)
	c.in = c.in[n:]
	return n, nil
}

// FuzzReaderGrowth: the framing reader with tiny buffers, so that small
// inputs exercise the growth of the read buffer and of large messages,
// its reads cut where the fuzzer says and some of them interrupted. It
// returns exactly the input's messages, in order, none over the limit,
// and what it holds for a message being read stays within twice what has
// arrived of it.
func FuzzReaderGrowth(f *testing.F) {
	big := bytes.Repeat([]byte("0123456789"), 30)
	f.Add(append(frame(FramingTCP, big), frame(FramingTCP, []byte("small"))...), []byte{3, 0, 7, 1, 200}, false)
	f.Add(append(frame(FramingIPC, []byte("a")), frame(FramingIPC, big)...), []byte{9, 0, 0, 64}, true)
	f.Add(frame(FramingTCP, make([]byte, 1000)), []byte{}, false)
	f.Fuzz(func(t *testing.T, in, cuts []byte, ipc bool) {
		fr := FramingTCP
		if ipc {
			fr = FramingIPC
		}
		const limit = 1 << 12
		c := &chunkConn{in: in, cuts: cuts}
		p := pipeOver(c, fr, limit)
		c.p = p
		p.rbuf = make([]byte, 16) // holds a header (9 bytes at most)
		p.rmax = 64
		var out []byte
		for {
			m, err := p.Recv()
			if p.large != nil && cap(p.large) > max(2*len(p.large), len(p.rbuf)) {
				t.Fatalf("holding %d bytes for %d received", cap(p.large), len(p.large))
			}
			if errors.Is(err, transport.ErrInterrupted) {
				continue
			}
			if err != nil {
				if err == io.EOF && !bytes.Equal(out, in) {
					t.Fatalf("clean EOF but %d of %d bytes parsed", len(out), len(in))
				}
				break
			}
			if len(m) > limit {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
			out = append(out, frame(fr, m)...)
		}
		if !bytes.HasPrefix(in, out) {
			t.Fatal("messages do not re-encode to the input")
		}
	})
}
