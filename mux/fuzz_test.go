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

// FuzzServerSession feeds a whole server session arbitrary bytes after a
// valid client preface, over net.Pipe, while an application accepts and
// reads its streams (so frames are taken both by the reader goroutine and
// by leaders). It must never panic or hang; the session must end when the
// input ends, and every stream it accepted reads to its end.
func FuzzServerSession(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(frame(typeData, flagSYN|flagEOM, 1, []byte("hello")), frame(typeData, flagFIN, 1, nil)))
	f.Add(cat(frame(typeData, flagSYN, 1, []byte("a")), frame(typeReset, 0, 1, u32(5)), frame(typeData, 0, 1, []byte("b"))))
	f.Add(cat(frame(typeData, flagSYN, 3, nil), frame(typeWindow, 0, 3, u32(100)), frame(typePing, 0, 0, make([]byte, 8))))
	f.Add(cat(frame(typeData, flagSYN|flagEOM, 1, nil), frame(typeData, flagEOM, 1, []byte("x")), frame(typeGoAway, 0, 0, u32(0))))
	f.Add(cat(frame(typeData, flagSYN, 1, make([]byte, 100)), frame(typeData, flagSYN, 3, nil), frame(typeWindow, 0, 0, u32(7))))
	f.Add(cat(frame(typeData, flagSYN, 1, make([]byte, 40000)), frame(typeData, flagEOM|flagFIN, 1, make([]byte, 30000))))
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, c2 := net.Pipe()
		s, err := Server(c2, &Config{MaxStreams: 64, AcceptBacklog: 64, MaxMessageSize: 1 << 20, KeepAliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		app := make(chan struct{})
		go func() { // the application
			defer close(app)
			for i := 0; ; i++ {
				st, err := s.AcceptStream(context.Background())
				if err != nil {
					return
				}
				st.SetReadDeadline(time.Now().Add(time.Second))
				if (len(data)+i)%2 == 0 {
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
		}()
		go io.Copy(io.Discard, c1) // what the server says
		in := cat(clientPreface(), data)
		for len(in) > 0 { // in pieces, so that reads interleave with the application
			n := min(len(in), 1+len(in)/3)
			if _, err := c1.Write(in[:n]); err != nil {
				break
			}
			in = in[n:]
		}
		c1.Close()
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end at EOF")
		}
		s.Close()
		<-app
	})
}
