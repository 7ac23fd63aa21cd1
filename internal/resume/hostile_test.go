package resume

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// tap records what is written on a path.
type tap struct {
	io.ReadWriteCloser
	mu  sync.Mutex
	out bytes.Buffer
}

func (t *tap) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.out.Write(b)
	t.mu.Unlock()
	return t.ReadWriteCloser.Write(b)
}

func (t *tap) written() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.out.Bytes())
}

// forger plays the peer's side of a resume exchange against a Conn:
// msg makes what it sends from the Conn's HELLO.
func forger(t *testing.T, target *Conn, msg func(theirs hello) []byte) error {
	t.Helper()
	x, y := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- target.Resume(context.Background(), x) }()
	b := make([]byte, helloLen)
	var theirs hello
	if _, err := io.ReadFull(y, b); err == nil {
		theirs, _ = parseHello(b)
	}
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, y)
		close(drained)
	}()
	y.Write(msg(theirs))
	err := <-done
	y.Close()
	<-drained
	return err
}

// forged returns a HELLO and a RESUME as the peer side would send them.
func forged(key []byte, id ID, side byte, gen, received uint64, theirs hello) []byte {
	h := hello{id: id}
	rand.Read(h.nonce[:])
	m := resumeMsg{id: id, gen: gen, received: received}
	return append(h.marshal(), m.marshal(key, side, &h.nonce, &theirs.nonce)...)
}

// Every forged, replayed or malformed resume is refused and counted, the
// Conn stays suspended, and the real peer resumes afterwards.
func TestHostileResume(t *testing.T) {
	a, b := newPair(t, fastCfg(), pipePaths)
	other, _ := newPair(t, fastCfg(), pipePaths) // another Conn, another key
	otherKey := []byte("another conn's key, known to its owner")
	other.SetKey(otherKey)

	// A first real resume, its bytes from b's end captured.
	if _, err := a.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	var captured *tap
	ea, eb := resumeBoth(t, a, b, func(tb testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) {
		x, y := pipePaths(tb)
		captured = &tap{ReadWriteCloser: y}
		return x, captured
	})
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	old := captured.written()[:helloLen+resumeLen]
	a.Break(nil)
	b.Break(nil)
	sent := a.Stats().BytesSent

	tests := []struct {
		name   string
		reason error
		msg    func(theirs hello) []byte
	}{
		{"wrong key", errBadMAC, func(th hello) []byte {
			return forged([]byte("not the key"), a.ID(), sidePeer, 99, 0, th)
		}},
		{"copied id, another conn's key", errBadMAC, func(th hello) []byte {
			return forged(otherKey, a.ID(), sidePeer, 99, 0, th)
		}},
		{"another conn's id", errWrongID, func(th hello) []byte {
			return forged(otherKey, other.ID(), sidePeer, 99, 0, th)
		}},
		{"replayed old resume", errBadMAC, func(hello) []byte { return old }},
		{"reflected hello", errReflected, func(th hello) []byte { return th.marshal() }},
		{"our own side", errBadMAC, func(th hello) []byte {
			return forged(testKey, a.ID(), sideNew, 99, 0, th)
		}},
		{"stale generation", errStaleGen, func(th hello) []byte {
			return forged(testKey, a.ID(), sidePeer, 1, 0, th)
		}},
		{"offset beyond what was sent", errBadOffset, func(th hello) []byte {
			return forged(testKey, a.ID(), sidePeer, 99, sent+1, th)
		}},
		{"garbage", errMalformed, func(hello) []byte {
			g := make([]byte, helloLen+resumeLen)
			rand.Read(g)
			return g
		}},
		{"bad version", errMalformed, func(th hello) []byte {
			m := forged(testKey, a.ID(), sidePeer, 99, 0, th)
			m[4] = 9
			return m
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := forger(t, a, tt.msg)
			if !errors.Is(err, ErrResumeRefused) || !errors.Is(err, tt.reason) {
				t.Fatalf("got %v, want %v", err, tt.reason)
			}
			if s := a.Stats(); s.Refused != uint64(i+1) || s.Resumes != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}

	// The real peer resumes, and the stream carries on.
	if ea, eb := resumeBoth(t, a, b, pipePaths); ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	go a.Write([]byte(" and after"))
	got := make([]byte, len("before and after"))
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "before and after" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A stalled exchange (a peer that sends HELLO and nothing more) holds
// nothing up: the real peer resumes at the same time, and the stalled
// exchange ends with its context.
func TestResumeWhileAnotherStalls(t *testing.T) {
	a, b := newPair(t, fastCfg(), pipePaths)
	a.Break(nil)
	b.Break(nil)
	sx, sy := net.Pipe()
	defer sy.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stalled := make(chan error, 1)
	go func() { stalled <- a.Resume(ctx, sx) }()
	go func() {
		io.ReadFull(sy, make([]byte, helloLen))
		h := hello{id: a.ID()}
		rand.Read(h.nonce[:])
		sy.Write(h.marshal())
		io.Copy(io.Discard, sy) // takes a's RESUME, answers nothing
	}()
	x, y := net.Pipe()
	errB := make(chan error, 1)
	go func() { errB <- b.Resume(context.Background(), y) }()
	if err := a.Resume(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	if err := <-errB; err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-stalled; !errors.Is(err, context.Canceled) && !errors.Is(err, ErrNotSuspended) {
		t.Fatalf("stalled exchange: %v", err)
	}
	go b.Write([]byte("on"))
	got := make([]byte, 2)
	if _, err := io.ReadFull(a, got); err != nil || string(got) != "on" {
		t.Fatalf("read %q, %v", got, err)
	}
}
