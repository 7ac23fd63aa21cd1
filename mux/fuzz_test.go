package mux

import (
	"bytes"
	"context"
	"io"
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

// fuzzConn feeds a session the fuzzer's bytes, then io.EOF, and swallows
// its writes.
type fuzzConn struct{ io.Reader }

func (fuzzConn) Write(p []byte) (int, error) { return len(p), nil }
func (fuzzConn) Close() error                { return nil }

// FuzzServerSession feeds a whole server session arbitrary bytes after a
// valid client preface. It must never panic or hang; it must end (the
// input ends with EOF); and every stream it accepted can be read to its end.
func FuzzServerSession(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(frame(typeData, flagSYN|flagEOM, 1, []byte("hello")), frame(typeData, flagFIN, 1, nil)))
	f.Add(cat(frame(typeData, flagSYN, 1, []byte("a")), frame(typeReset, 0, 1, u32(5)), frame(typeData, 0, 1, []byte("b"))))
	f.Add(cat(frame(typeData, flagSYN, 3, nil), frame(typeWindow, 0, 3, u32(100)), frame(typePing, 0, 0, make([]byte, 8))))
	f.Add(cat(frame(typeData, flagSYN|flagEOM, 1, nil), frame(typeData, flagEOM, 1, []byte("x")), frame(typeGoAway, 0, 0, u32(0))))
	f.Add(cat(frame(typeData, flagSYN, 1, make([]byte, 100)), frame(typeData, flagSYN, 3, nil), frame(typeWindow, 0, 0, u32(7))))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Server(fuzzConn{bytes.NewReader(cat(clientPreface(), data))}, &Config{MaxStreams: 64, AcceptBacklog: 64, MaxMessageSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end at EOF")
		}
		for {
			st, err := s.AcceptStream(context.Background())
			if err != nil {
				break
			}
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
