package resume

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

func TestNetConn(t *testing.T) {
	kinds := append(pathKinds[:len(pathKinds):len(pathKinds)], struct {
		name string
		mk   mkPaths
	}{"tls", tlsPaths})
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) {
				x, y := k.mk(t)
				a, err := New(x, fastCfg())
				if err != nil {
					return nil, nil, nil, err
				}
				b, err := NewPeer(a.ID(), y, fastCfg())
				if err != nil {
					return nil, nil, nil, err
				}
				return a, b, func() { a.Close(); b.Close() }, nil
			})
		})
	}
}

// A graceful Close delivers everything, then io.EOF, and is no break.
func TestCloseIsNotABreak(t *testing.T) {
	for _, k := range pathKinds {
		t.Run(k.name, func(t *testing.T) {
			broke := make(chan error, 2)
			cfg := fastCfg()
			cfg.OnBreak = func(err error) { broke <- err }
			a, b := newPair(t, cfg, k.mk)
			msg := bytes.Repeat([]byte("plexus"), 100000)
			go func() {
				a.Write(msg)
				a.Close()
			}()
			got, err := io.ReadAll(b)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if _, err := b.Write([]byte("x")); !errors.Is(err, ErrPeerClosed) {
				t.Fatalf("write after the peer's close: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read after close: %v", err)
			}
			select {
			case err := <-broke:
				t.Fatalf("a break: %v", err)
			default:
			}
			if sa, sb := a.Stats(), b.Stats(); sa.Breaks != 0 || sb.Breaks != 0 {
				t.Fatalf("breaks: %d, %d", sa.Breaks, sb.Breaks)
			}
		})
	}
}

// An idle Conn holds no replay bytes, nor their memory, once the peer's
// delayed ACK arrived.
func TestIdleHoldsNothing(t *testing.T) {
	a, b := newPair(t, fastCfg(), pipePaths)
	go io.Copy(io.Discard, b)
	if _, err := a.Write(make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no replay bytes", func() bool {
		s := a.Stats()
		return s.ReplayBytes == 0 && s.ReplayMemory == 0
	})
}

// The writer blocks at Buffer unacknowledged bytes: a fake peer reads the
// frames and never acknowledges.
func TestReplayBounded(t *testing.T) {
	x, y := net.Pipe()
	cfg := fastCfg()
	cfg.Buffer = 256 << 10
	a, err := New(x, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, y) // reads everything, never ACKs
	}()
	a.SetWriteDeadline(time.Now().Add(time.Hour))
	wrote := make(chan error, 1)
	go func() {
		_, err := a.Write(make([]byte, 4<<20))
		wrote <- err
	}()
	eventually(t, "a full replay buffer", func() bool { return a.Stats().ReplayBytes == cfg.Buffer })
	if s := a.Stats(); s.BytesSent != uint64(cfg.Buffer) || s.ReplayMemory > cfg.Buffer+chunkSize {
		t.Fatalf("stats %+v", s)
	}
	select {
	case err := <-wrote:
		t.Fatalf("write returned: %v", err)
	default:
	}
	a.SetWriteDeadline(time.Now())
	if err := <-wrote; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write: %v", err)
	}
	y.Close()
	<-done
}

// Close wakes a blocked Read and a blocked Write at once with an error
// that is net.ErrClosed, on an attached and on a suspended Conn.
func TestCloseWakes(t *testing.T) {
	for _, suspended := range []bool{false, true} {
		cfg := fastCfg()
		cfg.Buffer = 64 << 10
		a, b := newPair(t, cfg, pipePaths)
		if suspended {
			a.Break(nil)
		}
		errs := make(chan error, 2)
		go func() {
			_, err := a.Read(make([]byte, 10))
			errs <- err
		}()
		go func() {
			_, err := a.Write(make([]byte, 1<<20)) // b never reads: blocks
			errs <- err
		}()
		eventually(t, "a full replay buffer", func() bool { return a.Stats().ReplayBytes == cfg.Buffer })
		a.Close()
		for range 2 {
			if err := <-errs; !errors.Is(err, net.ErrClosed) {
				t.Fatalf("suspended %v: %v", suspended, err)
			}
		}
		if err := a.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second close: %v", err)
		}
		b.Close()
	}
}

// A path on which nothing arrives breaks after KeepAliveTimeout, and the
// owner hears of it.
func TestKeepAliveTimeout(t *testing.T) {
	x, y := net.Pipe()
	defer y.Close()
	go io.Copy(io.Discard, y) // reads the PINGs, never answers
	broke := make(chan error, 1)
	a, err := New(x, &Config{KeepAliveInterval: 10 * time.Millisecond, KeepAliveTimeout: 50 * time.Millisecond, OnBreak: func(err error) { broke <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := <-broke; !errors.Is(err, ErrKeepAliveTimeout) {
		t.Fatalf("break: %v", err)
	}
	if s := a.Stats(); s.Breaks != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Two idle Conns keep their path alive with PING and PONG.
func TestKeepAlivePings(t *testing.T) {
	cfg := &Config{KeepAliveInterval: 5 * time.Millisecond, KeepAliveTimeout: 5 * time.Second}
	x, y := net.Pipe()
	tx := &countingPath{ReadWriteCloser: x}
	a, err := New(tx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewPeer(a.ID(), y, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	eventually(t, "PINGs and PONGs", func() bool { return tx.writes.Load() >= 10 })
	if sa, sb := a.Stats(), b.Stats(); sa.Breaks != 0 || sb.Breaks != 0 {
		t.Fatalf("breaks %d %d", sa.Breaks, sb.Breaks)
	}
}

// A Conn's config is checked.
func TestConfigChecked(t *testing.T) {
	for _, cfg := range []*Config{
		{Buffer: -1}, {AckDelay: -1}, {KeepAliveTimeout: -1}, {ResumeWindow: -1},
		{KeepAliveInterval: time.Second, KeepAliveTimeout: time.Millisecond},
	} {
		x, y := net.Pipe()
		if _, err := New(x, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
		x.Close()
		y.Close()
	}
}
