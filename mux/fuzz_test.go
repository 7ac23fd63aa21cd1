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
	f.Add(classClientPreface())
	f.Add([]byte("PLXMUX\x01\x02"))
	f.Add([]byte("PLXMUX\x02\x02"))
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
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSession(t, data, false) })
}

// FuzzClassSession is FuzzServerSession between sides that both have a
// class: class streams, their credit and their accept queue too.
func FuzzClassSession(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(frame(typeData, flagSYN|flagClass|flagEOM, 1, []byte("hello")), frame(typeData, flagFIN|flagClass, 1, nil)))
	f.Add(cat(frame(typeData, flagSYN|flagClass, 1, []byte("a")), frame(typeData, flagSYN, 3, []byte("b")), frame(typeWindow, flagClass, 0, u32(100))))
	f.Add(cat(frame(typeData, flagSYN|flagClass, 1, make([]byte, 60000)), frame(typeData, flagSYN|flagClass, 3, make([]byte, 60000)),
		frame(typeReset, 0, 1, u32(5)), frame(typeData, flagClass, 1, []byte("late"))))
	f.Add(cat(frame(typeData, flagSYN|flagClass, 1, nil), frame(typeData, 0, 1, []byte("x"))))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSession(t, data, true) })
}

// fuzzSession runs a server session (with a class if class) on data sent
// by a client after its preface, and an application that accepts and
// reads every stream (of the class too).
func fuzzSession(t *testing.T, data []byte, class bool) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cfg := &Config{MaxStreams: 64, AcceptBacklog: 64, MaxMessageSize: 1 << 20, KeepAliveInterval: -1}
	pre := clientPreface()
	if class {
		cfg.ClassWindow, cfg.ClassMaxStreams = minSessionWindow, 64
		pre = classClientPreface()
	}
	c1, c2 := net.Pipe()
	s, err := Server(c2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(accept func(context.Context) (*Stream, error)) {
		for i := 0; ; i++ {
			st, err := accept(context.Background())
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
	}
	app := make(chan struct{})
	go func() { // the application
		defer close(app)
		if class {
			done := make(chan struct{})
			go func() {
				defer close(done)
				serve(s.AcceptClassStream)
			}()
			defer func() { <-done }()
		}
		serve(s.AcceptStream)
	}()
	go io.Copy(io.Discard, c1) // what the server says
	in := cat(pre, data)
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
}
