package mux

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// rawPeer is a hand-driven client: the test writes bytes, a server
// session answers.
type rawPeer struct {
	conn net.Conn
	sess *Session
}

func newRawPeer(t *testing.T, cfg *Config) *rawPeer {
	t.Helper()
	c1, c2 := tcpPipe(t)
	s, err := Server(c2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c1) // swallow what the server says
	t.Cleanup(func() {
		c1.Close()
		s.Close()
	})
	return &rawPeer{conn: c1, sess: s}
}

func clientPreface() []byte {
	return appendPreface(nil, settings{role: roleClient, streamWindow: DefaultStreamWindow,
		sessionWindow: DefaultSessionWindow, maxFrame: DefaultMaxFrameSize, acceptBacklog: DefaultAcceptBacklog})
}

// expectFail waits for the session to end with an error that is want.
func (p *rawPeer) expectFail(t *testing.T, want error) {
	t.Helper()
	select {
	case <-p.sess.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session still open")
	}
	if !errors.Is(p.sess.Err(), want) {
		t.Fatalf("Err = %v, want %v", p.sess.Err(), want)
	}
}

func frame(typ frameType, flags uint8, id uint32, payload []byte) []byte {
	return append(appendHeader(nil, typ, flags, id, len(payload)), payload...)
}

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func TestHostilePeer(t *testing.T) {
	pre := clientPreface()
	badVersion := append([]byte(nil), pre...)
	badVersion[prefaceVersion] = 9
	bothClients := appendPreface(nil, settings{role: roleServer, streamWindow: minStreamWindow, sessionWindow: minSessionWindow, maxFrame: minFrameSize})
	tinyWindow := appendPreface(nil, settings{role: roleClient, streamWindow: 1, sessionWindow: minSessionWindow, maxFrame: minFrameSize})
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		send []byte
	}{
		{"garbage preface", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"short preface", []byte("PLX")},
		{"bad version", badVersion},
		{"same role", bothClients},
		{"tiny window", tinyWindow},
		{"unknown frame type", cat(pre, frame(0x9, 0, 0, nil))},
		{"data on stream 0", cat(pre, frame(typeData, 0, 0, []byte("x")))},
		{"frame for a stream never opened", cat(pre, frame(typeData, 0, 7, []byte("x")))},
		{"window for a stream never opened", cat(pre, frame(typeWindow, 0, 9, u32(1)))},
		{"open with a server id", cat(pre, frame(typeData, flagSYN, 2, nil))},
		{"open an id twice", cat(pre, frame(typeData, flagSYN, 5, nil), frame(typeData, flagSYN, 3, nil))},
		{"oversized length", cat(pre, appendHeader(nil, typeData, flagSYN, 1, maxFrameLimit))},
		{"stream window exceeded", cat(pre, frame(typeData, flagSYN, 1, nil),
			frame(typeData, 0, 1, make([]byte, 60000)), frame(typeData, 0, 1, make([]byte, 60000)),
			frame(typeData, 0, 1, make([]byte, 60000)), frame(typeData, 0, 1, make([]byte, 60000)),
			frame(typeData, 0, 1, make([]byte, 60000)))},
		{"window overflow", cat(pre, frame(typeData, flagSYN, 1, nil),
			frame(typeWindow, 0, 1, u32(maxWindow)), frame(typeWindow, 0, 1, u32(maxWindow)))},
		{"session window overflow", cat(pre, frame(typeWindow, 0, 0, u32(maxWindow)))},
		{"zero window update", cat(pre, frame(typeWindow, 0, 0, u32(0)))},
		{"bad ping length", cat(pre, frame(typePing, 0, 0, []byte{1, 2}))},
		{"bad reset", cat(pre, frame(typeReset, 0, 0, u32(1)))},
		{"data after FIN", cat(pre, frame(typeData, flagSYN|flagFIN, 1, nil), frame(typeData, 0, 1, []byte("x")))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newRawPeer(t, nil)
			p.conn.Write(tc.send)
			if tc.name == "short preface" {
				p.conn.(*net.TCPConn).CloseWrite() // EOF after three bytes
			}
			p.expectFail(t, ErrProtocol)
		})
	}
}

// TestOpenFlood: a peer that opens streams far beyond the limits and never
// waits gets its excess refused; the session stays bounded.
func TestOpenFlood(t *testing.T) {
	p := newRawPeer(t, &Config{MaxStreams: 100, AcceptBacklog: 100})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := clientPreface()
	const n = 200000
	for id := uint32(1); id < 2*n; id += 2 {
		buf = appendHeader(buf, typeData, flagSYN, id, 0)
		if len(buf) > 64<<10 {
			if _, err := p.conn.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
	}
	p.conn.Write(buf)
	waitFor(t, func() bool { // every open was processed
		p.sess.table.mu.Lock()
		defer p.sess.table.mu.Unlock()
		return p.sess.table.lastPeerID == 2*n-1 || p.sess.isClosed()
	})
	if p.sess.Err() == nil {
		if n := p.sess.NumStreams(); n != 100 {
			t.Fatalf("session holds %d streams, want 100", n)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 16<<20 {
		t.Fatalf("heap grew by %d bytes for %d refused opens", grow, n)
	}
}

// TestPingFlood: a peer that pings without reading the answers fails the
// session with ErrProtocol instead of growing its queue.
func TestPingFlood(t *testing.T) {
	c1, c2 := net.Pipe() // nobody reads c1: the server's answers pile up
	s, err := Server(c2, &Config{WriteTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer c1.Close()
	go func() {
		c1.Write(clientPreface())
		ping := frame(typePing, 0, 0, make([]byte, 8))
		batch := bytes.Repeat(ping, 4096)
		for s.Err() == nil {
			if _, err := c1.Write(batch); err != nil {
				return
			}
		}
	}()
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("ping flood not stopped")
	}
	if !errors.Is(s.Err(), ErrProtocol) {
		t.Fatalf("Err = %v", s.Err())
	}
}

// TestOpenResetFlood: a peer that opens streams and resets each before it
// is accepted, while nobody accepts, does not grow the accept queue: the
// reset streams leave the backlog, and the queue sheds them.
func TestOpenResetFlood(t *testing.T) {
	p := newRawPeer(t, &Config{AcceptBacklog: 16})
	buf := clientPreface()
	const n = 50000
	for id := uint32(1); id < 2*n; id += 2 {
		buf = append(buf, frame(typeData, flagSYN, id, nil)...)
		buf = append(buf, frame(typeReset, 0, id, u32(uint32(CodeCancel)))...)
		if len(buf) > 64<<10 {
			if _, err := p.conn.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
	}
	p.conn.Write(buf)
	waitFor(t, func() bool { // every open and reset was processed
		p.sess.table.mu.Lock()
		defer p.sess.table.mu.Unlock()
		return p.sess.table.lastPeerID == 2*n-1 && len(p.sess.table.streams) == 0 || p.sess.isClosed()
	})
	if err := p.sess.Err(); err != nil {
		t.Fatalf("session failed: %v", err)
	}
	p.sess.table.mu.Lock()
	queued := len(p.sess.table.acc[0].q) - p.sess.table.acc[0].head
	p.sess.table.mu.Unlock()
	t.Logf("%d streams opened and reset: %d left in the accept queue", n, queued)
	if queued > 2*16+64 {
		t.Fatalf("the accept queue holds %d streams, all reset", queued)
	}
}
