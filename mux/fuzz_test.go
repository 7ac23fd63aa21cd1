package mux

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzFrameHeader: decoding never panics, and what check accepts survives
// a round trip.
func FuzzFrameHeader(f *testing.F) {
	f.Add(frame(typeData, flagSYN|flagEOM, 1, []byte("hi")))
	f.Add(frame(typeWindow, 0, 0, u32(1<<16)))
	f.Add(frame(typePing, flagACK, 0, make([]byte, 8)))
	f.Add(frame(typeGoAway, 0, 0, u32(0)))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < headerSize {
			return
		}
		h := parseHeader(b)
		if h.check(DefaultMaxFrameSize) != nil {
			return
		}
		again := parseHeader(appendHeader(nil, h.typ, h.flags, h.streamID, int(h.length)))
		if again != h {
			t.Fatalf("round trip: %v != %v", again, h)
		}
	})
}

// FuzzPreface: any bytes are a valid preface or a protocol error.
func FuzzPreface(f *testing.F) {
	f.Add(clientPreface())
	f.Add([]byte("PLXMUX\x01\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parsePreface(b)
		if err != nil {
			return
		}
		if again, err := parsePreface(appendPreface(nil, s)); err != nil || again != s {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

// fuzzConn feeds a session the fuzzer's bytes and swallows its writes.
type fuzzConn struct {
	r      io.Reader
	closed chan struct{}
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		<-c.closed // hold the session open until the test is done with it
	}
	return n, err
}
func (c *fuzzConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}
func (c *fuzzConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

// FuzzServerSession feeds a whole server session arbitrary bytes after a
// valid client preface; it must never panic or hang, and every stream it
// opens can be read to its end.
func FuzzServerSession(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(frame(typeData, flagSYN|flagEOM, 1, []byte("hello")), frame(typeData, flagFIN, 1, nil)))
	f.Add(cat(frame(typeData, flagSYN, 1, []byte("a")), frame(typeReset, 0, 1, u32(5)), frame(typeData, 0, 1, []byte("b"))))
	f.Add(cat(frame(typeData, flagSYN, 3, nil), frame(typeWindow, 0, 3, u32(100)), frame(typePing, 0, 0, make([]byte, 8))))
	f.Add(cat(frame(typeData, flagSYN|flagEOM, 1, nil), frame(typeData, flagEOM, 1, []byte("x")), frame(typeGoAway, 0, 0, u32(0))))
	f.Add(cat(frame(typeData, flagSYN, 1, make([]byte, 100)), frame(typeData, flagSYN, 3, nil), frame(typeWindow, 0, 0, u32(7))))
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &fuzzConn{r: bytes.NewReader(cat(clientPreface(), data)), closed: make(chan struct{})}
		s, err := Server(conn, &Config{MaxStreams: 64, AcceptBacklog: 64, MaxMessageSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		for {
			st, err := s.AcceptStream(ctx)
			if err != nil {
				break
			}
			st.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if len(data)%2 == 0 {
				io.Copy(io.Discard, st)
			} else {
				for {
					if _, err := st.Recv(); err != nil {
						break
					}
				}
			}
			st.Write([]byte("reply"))
			st.Close()
		}
		s.Close()
	})
}
