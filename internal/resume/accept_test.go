package resume

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestAcceptTakesOver: a peer that saw a break its end did not (the path
// still attached there) resumes over a new path with Resume, and Accept
// takes it over once the peer is proved: the stream carries on, both
// ways, no byte lost or duplicated, while bytes were in flight.
func TestAcceptTakesOver(t *testing.T) {
	for _, pk := range pathKinds {
		t.Run(pk.name, func(t *testing.T) {
			a, b := newPair(t, fastCfg(), pk.mk)
			const size = 4 << 20
			want := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			var got bytes.Buffer
			done := make(chan error, 1)
			go func() {
				_, err := io.CopyN(&got, b, size)
				done <- err
			}()
			go a.Write(want[:size/2])
			eventually(t, "half the bytes received", func() bool { return b.Stats().BytesReceived >= size/4 })
			a.Break(nil) // only a sees the break
			x, y := pk.mk(t)
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			var wg sync.WaitGroup
			var errB error
			wg.Add(1)
			go func() {
				defer wg.Done()
				errB = b.Accept(ctx, y)
			}()
			if err := a.Resume(ctx, x); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if errB != nil {
				t.Fatal(errB)
			}
			if _, err := a.Write(want[size/2:]); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatal("the stream differs after the takeover")
			}
			if st := b.Stats(); st.Resumes != 1 || st.Breaks != 1 {
				t.Fatalf("b: %d resumes, %d breaks; want 1 and 1", st.Resumes, st.Breaks)
			}
		})
	}
}

// TestAcceptRefusesUnproved: Accept with a peer that lacks the key is
// refused and counted, and leaves an attached Conn attached and working.
func TestAcceptRefusesUnproved(t *testing.T) {
	a, b := newPair(t, fastCfg(), pipePaths)
	x, y := net.Pipe()
	hostile, err := NewWithID(b.ID(), nopPath{}, fastCfg())
	if err != nil {
		t.Fatal(err)
	}
	defer hostile.Fail(ErrClosed)
	hostile.Break(nil)
	hostile.SetKey([]byte("not the key"))
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	errs := make(chan error, 1)
	go func() { errs <- hostile.Resume(ctx, keepOpen{x}) }()
	if err := b.Accept(ctx, y); !errors.Is(err, ErrResumeRefused) {
		t.Fatalf("Accept of an unproved peer: %v, want ErrResumeRefused", err)
	}
	x.Close()
	<-errs
	if b.Suspended() || b.Stats().Refused != 1 || b.Stats().Breaks != 0 {
		t.Fatalf("after a refused Accept: suspended %v, %d refused, %d breaks", b.Suspended(), b.Stats().Refused, b.Stats().Breaks)
	}
	if _, err := a.Write([]byte("still")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	b.SetReadDeadline(time.Now().Add(patience))
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "still" {
		t.Fatalf("after a refused Accept: %q, %v", buf, err)
	}
}

// keepOpen is a path whose Close does nothing, so that a refused exchange
// does not cut the other side's read short.
type keepOpen struct{ io.ReadWriteCloser }

func (keepOpen) Close() error { return nil }

// nopPath is a path that never delivers anything.
type nopPath struct{}

func (nopPath) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopPath) Write(b []byte) (int, error) { return len(b), nil }
func (nopPath) Close() error                { return nil }

// TestFail: Fail ends a Conn at once, attached or suspended, with the
// error given; Read and Write return it, and a later Fail or Close does
// nothing more.
func TestFail(t *testing.T) {
	for _, suspended := range []bool{false, true} {
		a, b := newPair(t, fastCfg(), pipePaths)
		if suspended {
			a.Break(nil)
		}
		why := errors.New("given up")
		a.Fail(why)
		if _, err := a.Read(make([]byte, 1)); !errors.Is(err, why) {
			t.Fatalf("Read after Fail: %v", err)
		}
		if _, err := a.Write([]byte("x")); !errors.Is(err, why) {
			t.Fatalf("Write after Fail: %v", err)
		}
		a.Fail(errors.New("again"))
		if err := a.Err(); !errors.Is(err, why) {
			t.Fatalf("Err after a second Fail: %v", err)
		}
		b.Close()
	}
}

// TestKeepAliveBusy: with KeepAliveBusy, an idle Conn on a silent path
// is not broken (it sends nothing), and one with bytes awaiting an
// acknowledgement on a path that went silent is.
func TestKeepAliveBusy(t *testing.T) {
	cfg := &Config{AckDelay: 5 * time.Millisecond, KeepAliveInterval: 20 * time.Millisecond, KeepAliveTimeout: 100 * time.Millisecond, KeepAliveBusy: true}
	x, y := net.Pipe()
	sx := &countingPath{ReadWriteCloser: x}
	a, err := New(sx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// y is read by nobody: an idle a writes nothing, so nothing blocks.
	time.Sleep(10 * cfg.KeepAliveTimeout) // idle for ten timeouts: no break may come
	if a.Suspended() || sx.writes.Load() != 0 {
		t.Fatalf("an idle Conn: suspended %v, %d writes", a.Suspended(), sx.writes.Load())
	}
	go io.Copy(io.Discard, y) // the bytes go, no acknowledgement ever comes back
	if _, err := a.Write([]byte("waiting for an ACK")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the busy Conn's path to break", a.Suspended)
	y.Close()
}
