package resume

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// cutter holds the raw ends of a Conn pair's current path, which the test
// cuts at random points of the transfer.
type cutter struct {
	mu   sync.Mutex
	x, y io.Closer
	cuts int
}

func (c *cutter) set(x, y io.Closer) {
	c.mu.Lock()
	c.x, c.y = x, y
	c.mu.Unlock()
}

// cut closes one end of the current path, or both.
func (c *cutter) cut(r *rand.Rand) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cuts++
	switch r.IntN(3) {
	case 0:
		c.x.Close()
	case 1:
		c.y.Close()
	default:
		c.x.Close()
		c.y.Close()
	}
}

// TestResumeTransfer sends 64 MiB of random bytes each way while the path
// under the Conn is closed at random points; every break is resumed over a
// new path, and the SHA-256 of what arrived matches what was sent.
func TestResumeTransfer(t *testing.T) {
	const size = 64 << 20
	tests := []struct {
		name   string
		mk     mkPaths
		buffer int
		every  int // a cut after about this many bytes received (each way)
	}{
		{"pipe/1MiB", pipePaths, 1 << 20, 8 << 20},
		{"tcp/1MiB", tcpPaths, 1 << 20, 8 << 20},
		{"pipe/64KiB", pipePaths, 64 << 10, 6 << 20},
		{"tcp/16MiB", tcpPaths, 16 << 20, 12 << 20},
		{"tls/1MiB", tlsPaths, 1 << 20, 8 << 20},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fastCfg()
			cfg.Buffer = tt.buffer
			broke := make(chan struct{}, 1)
			cfg.OnBreak = func(error) {
				select {
				case broke <- struct{}{}:
				default:
				}
			}
			x, y := tt.mk(t)
			a, err := New(x, cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewPeer(a.ID(), y, cfg)
			if err != nil {
				t.Fatal(err)
			}
			a.SetKey(testKey)
			b.SetKey(testKey)
			cut := &cutter{x: x, y: y}

			// The owner: each break is resumed over a new path.
			stop := make(chan struct{})
			var owner sync.WaitGroup
			owner.Add(1)
			go func() {
				defer owner.Done()
				for {
					select {
					case <-broke:
					case <-stop:
						return
					}
					for {
						x, y := tt.mk(t)
						ea, eb := resumeBoth(t, a, b, func(testing.TB) (io.ReadWriteCloser, io.ReadWriteCloser) { return x, y })
						if ea == nil && eb == nil {
							cut.set(x, y)
							break
						}
						t.Logf("resume: %v, %v; again", ea, eb)
						select {
						case <-stop:
							return
						default:
						}
					}
				}
			}()

			var wg sync.WaitGroup
			sums := make([][sha256.Size]byte, 4)
			send := func(c *Conn, seed uint64, out *[sha256.Size]byte) {
				defer wg.Done()
				r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(i)}))
				h := sha256.New()
				buf := make([]byte, 256<<10)
				for left := size; left > 0; {
					n := min(left, 1+r.IntN(len(buf)))
					for j := 0; j < n; j += 8 {
						v := r.Uint64()
						for k := j; k < min(j+8, n); k++ {
							buf[k] = byte(v >> (8 * (k - j)))
						}
					}
					h.Write(buf[:n])
					if _, err := c.Write(buf[:n]); err != nil {
						t.Errorf("write: %v", err)
						return
					}
					left -= n
				}
				copy(out[:], h.Sum(nil))
			}
			recv := func(c *Conn, seed uint64, out *[sha256.Size]byte) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				h := sha256.New()
				buf := make([]byte, 100<<10)
				next := tt.every/2 + r.IntN(tt.every)
				for got := 0; got < size; {
					n, err := c.Read(buf[:min(len(buf), size-got)])
					if err != nil {
						t.Errorf("read after %d bytes: %v", got, err)
						return
					}
					h.Write(buf[:n])
					got += n
					if got >= next {
						cut.cut(r)
						next += tt.every/2 + r.IntN(tt.every)
					}
				}
				copy(out[:], h.Sum(nil))
			}
			wg.Add(4)
			go send(a, 1, &sums[0])
			go recv(b, 2, &sums[1])
			go send(b, 3, &sums[2])
			go recv(a, 4, &sums[3])
			wg.Wait()
			close(stop)
			owner.Wait()
			if sums[0] != sums[1] || sums[2] != sums[3] {
				t.Errorf("checksums differ: a→b %x %x, b→a %x %x", sums[0][:4], sums[1][:4], sums[2][:4], sums[3][:4])
			}
			sa, sb := a.Stats(), b.Stats()
			t.Logf("cuts %d; a: %+v; b: %+v", cut.cuts, sa, sb)
			if sa.Resumes < 3 || sa.Refused != 0 || sb.Refused != 0 {
				t.Errorf("resumes %d, refused %d/%d", sa.Resumes, sa.Refused, sb.Refused)
			}
			if err := a.Close(); err != nil {
				t.Error(err)
			}
			b.Close()
		})
	}
}

// With no resume within the window, the Conn fails: blocked and later
// reads and writes return ErrResumeTimeout, and so does Resume.
func TestResumeWindowExpires(t *testing.T) {
	cfg := fastCfg()
	cfg.Buffer = 64 << 10
	cfg.ResumeWindow = 50 * time.Millisecond
	a, b := newPair(t, cfg, pipePaths)
	a.Break(nil)
	errs := make(chan error, 2)
	go func() {
		_, err := a.Read(make([]byte, 10))
		errs <- err
	}()
	go func() {
		_, err := a.Write(make([]byte, 1<<20)) // beyond Buffer: blocks
		errs <- err
	}()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrResumeTimeout) {
			t.Fatalf("blocked call: %v", err)
		}
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, ErrResumeTimeout) {
		t.Fatalf("write: %v", err)
	}
	x, _ := pipePaths(t)
	if err := a.Resume(t.Context(), x); !errors.Is(err, ErrResumeTimeout) {
		t.Fatalf("resume: %v", err)
	}
	// b saw the path end too, and fails the same way.
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, ErrResumeTimeout) {
		t.Fatalf("peer read: %v", err)
	}
	if s := a.Stats(); s.Breaks != 1 || s.Resumes != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Data written while the path is down goes out after the resume; Resume
// needs a key and a suspended Conn.
func TestResumeBasics(t *testing.T) {
	a, b := newPair(t, fastCfg(), pipePaths)
	x, _ := pipePaths(t)
	if err := a.Resume(t.Context(), x); !errors.Is(err, ErrNotSuspended) {
		t.Fatalf("resume while attached: %v", err)
	}
	a.Break(nil)
	a.SetKey(nil)
	x, _ = pipePaths(t)
	if err := a.Resume(t.Context(), x); !errors.Is(err, ErrNoKey) {
		t.Fatalf("resume without a key: %v", err)
	}
	a.SetKey(testKey)
	if _, err := a.Write([]byte("written while suspended")); err != nil {
		t.Fatal(err)
	}
	if ea, eb := resumeBoth(t, a, b, pipePaths); ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	buf := make([]byte, 64)
	n, err := b.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("written while suspended")) {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if s := a.Stats(); s.Resumes != 1 || s.Breaks != 1 {
		t.Fatalf("stats %+v", s)
	}
}
