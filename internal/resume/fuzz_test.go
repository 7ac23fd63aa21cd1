package resume

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fuzzPath is a path that reads from a fixed input, then io.EOF, and
// swallows writes.
type fuzzPath struct{ r io.Reader }

func (p *fuzzPath) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *fuzzPath) Write(b []byte) (int, error) { return len(b), nil }
func (p *fuzzPath) Close() error                { return nil }

func frameBytes(t frameType, payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(payload))
	putHeader(b, t, len(payload))
	return append(b, payload...)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// FuzzFrames feeds a Conn's path reader arbitrary bytes: it never panics
// or hangs, and ends with io.EOF, a CLOSE, or an error wrapping
// ErrProtocol.
func FuzzFrames(f *testing.F) {
	f.Add(frameBytes(frameData, []byte("hello")))
	f.Add(append(frameBytes(frameData, []byte("hi")), frameBytes(frameClose, u64(2))...))
	f.Add(append(frameBytes(framePing, nil), frameBytes(frameAck, u64(0))...))
	f.Add(frameBytes(frameAck, u64(7)))
	f.Add([]byte{9, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		broke := make(chan error, 1)
		cfg := &Config{Buffer: 1 << 16, KeepAliveInterval: -1, OnBreak: func(err error) { broke <- err }}
		c, err := New(&fuzzPath{bytes.NewReader(in)}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		p := c.last
		c.mu.Unlock()
		p.wg.Wait()
		c.mu.Lock()
		st := c.state
		c.mu.Unlock()
		if st == stateSuspended {
			err := <-broke
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("break: %v", err)
			}
		}
		c.Close()
	})
}

// FuzzResume plays arbitrary bytes as the peer's side of a resume
// exchange: the decoders never panic, and Resume fails with a refusal or
// the end of the input, never succeeds.
func FuzzResume(f *testing.F) {
	var id ID
	h := hello{id: id}
	m := resumeMsg{id: id, gen: 1}
	var n [nonceLen]byte
	f.Add(append(h.marshal(), m.marshal(testKey, sidePeer, &h.nonce, &n)...))
	f.Add(h.marshal())
	f.Add([]byte("PXRS"))
	f.Fuzz(func(t *testing.T, in []byte) {
		parseHello(in)
		parseResume(in)
		c, err := NewPeer(id, &fuzzPath{bytes.NewReader(nil)}, &Config{KeepAliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetKey(testKey)
		c.Break(nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = c.Resume(ctx, &fuzzPath{bytes.NewReader(in)})
		switch {
		case err == nil:
			t.Fatal("a forged resume succeeded")
		case errors.Is(err, ErrResumeRefused):
			if c.Stats().Refused != 1 {
				t.Fatal("a refusal not counted")
			}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		default:
			t.Fatalf("resume: %v", err)
		}
	})
}

// FuzzAccept plays arbitrary bytes as the peer's side of a resume
// exchange against Accept, on a Conn whose path is still attached: it
// never succeeds, and a refusal leaves the Conn attached.
func FuzzAccept(f *testing.F) {
	var id ID
	h := hello{id: id}
	m := resumeMsg{id: id, gen: 1}
	var n [nonceLen]byte
	f.Add(append(h.marshal(), m.marshal(testKey, sideNew, &h.nonce, &n)...))
	f.Add(h.marshal())
	f.Add([]byte("PXRS"))
	f.Fuzz(func(t *testing.T, in []byte) {
		x, y := net.Pipe()
		defer y.Close()
		c, err := NewPeer(id, x, &Config{KeepAliveInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Fail(ErrClosed)
		c.SetKey(testKey)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = c.Accept(ctx, &fuzzPath{bytes.NewReader(in)})
		switch {
		case err == nil:
			t.Fatal("a forged resume succeeded")
		case errors.Is(err, ErrResumeRefused):
			if c.Suspended() {
				t.Fatal("a refused resume broke the attached path")
			}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		default:
			t.Fatalf("accept: %v", err)
		}
	})
}
