package mesh

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/resume"
	"github.com/plexusnet/plexus/mux"
)

// cutProxy forwards TCP connections to a target: a path between two nodes
// that a test can cut (close both sockets of every pair), freeze (stop
// forwarding on the pairs open now: a silent path), or block (refuse new
// connections: no path at all).
type cutProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    sync.Cond
	pairs   []*proxyPair
	blocked bool
	closed  bool
	wg      sync.WaitGroup
}

type proxyPair struct {
	a, b   net.Conn
	frozen bool
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: target}
	p.cond.L = &p.mu
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.blocked || p.closed {
			p.mu.Unlock()
			a.Close()
			continue
		}
		p.mu.Unlock()
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			a.Close()
			continue
		}
		pr := &proxyPair{a: a, b: b}
		p.mu.Lock()
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(pr, a, b)
		go p.pump(pr, b, a)
	}
}

// pump copies src to dst, holding each chunk while the pair is frozen.
func (p *cutProxy) pump(pr *proxyPair, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for pr.frozen && !p.closed {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// cut closes both sockets of every pair open now.
func (p *cutProxy) cut() {
	p.mu.Lock()
	prs := p.pairs
	p.pairs = nil
	p.mu.Unlock()
	for _, pr := range prs {
		pr.a.Close()
		pr.b.Close()
	}
}

// freeze stops forwarding on the pairs open now (new ones forward).
func (p *cutProxy) freeze() {
	p.mu.Lock()
	for _, pr := range p.pairs {
		pr.frozen = true
	}
	p.mu.Unlock()
}

// block makes the proxy refuse new connections (on), or take them again.
func (p *cutProxy) block(on bool) {
	p.mu.Lock()
	p.blocked = on
	p.mu.Unlock()
}

func (p *cutProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// resumeMode is the security of a resumable link test.
type resumeMode struct {
	name string
	opts func(t testing.TB, ca *testCA) []Option
}

var resumeModes = []resumeMode{
	{"insecure", func(testing.TB, *testCA) []Option { return nil }},
	{"secured", func(t testing.TB, ca *testCA) []Option { return []Option{WithTLS(ca.nodeConfig(t, true))} }},
}

// joinedThrough starts a serving node a and a node b that joins it
// through a cutProxy, both with resumable links unless the options say
// otherwise, and waits for the link.
func joinedThrough(t *testing.T, aOpts, bOpts []Option) (a, b *Node, p *cutProxy) {
	t.Helper()
	on := []Option{WithResume(true)}
	a, b = newNode(t, append(on, aOpts...)...), newNode(t, append(on, bOpts...)...)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ln); err != nil {
		t.Fatal(err)
	}
	p = newCutProxy(t, ln.Addr().String())
	if err := b.Join("tcp", p.addr()); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, a, b.ID(), 1)
	waitRoute(t, b, a.ID(), 1)
	return a, b, p
}

// linkOf returns n's link to peer (suspended or not), or nil.
func linkOf(n *Node, peer uint64) *link {
	n.c.links.mu.Lock()
	defer n.c.links.mu.Unlock()
	ls := n.c.links.byPeer[peer]
	if len(ls) == 0 {
		return nil
	}
	return ls[len(ls)-1]
}

// transferAcross sends size random bytes from the sender's conn to the
// receiver's, calling mid once half is received, and checks the SHA-256.
func transferAcross(t *testing.T, w, r net.Conn, size int, mid func()) {
	t.Helper()
	sum := make(chan [32]byte, 1)
	werr := make(chan error, 1)
	go func() {
		h := sha256.New()
		buf := make([]byte, 256<<10)
		for sent := 0; sent < size; {
			chunk := buf[:min(len(buf), size-sent)]
			rand.Read(chunk)
			h.Write(chunk)
			if _, err := w.Write(chunk); err != nil {
				werr <- err
				return
			}
			sent += len(chunk)
		}
		var s [32]byte
		copy(s[:], h.Sum(nil))
		sum <- s
		werr <- w.Close()
	}()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	got, called := 0, false
	r.SetReadDeadline(time.Now().Add(patience))
	for got < size {
		n, err := r.Read(buf)
		h.Write(buf[:n])
		got += n
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", got, size, err)
		}
		if !called && got >= size/2 {
			called = true
			mid()
		}
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing: %v", err)
	}
	want := <-sum
	if string(h.Sum(nil)) != string(want[:]) {
		t.Fatal("SHA-256 mismatch")
	}
}

// dialed accepts, on n, a connection from d to a fresh port of n.
func dialed(t *testing.T, d, n *Node) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := n.Listen("", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	c, err := d.DialContext(ctxT(t), "", FormatID(n.ID())+":"+port)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-acc
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// TestResumeLinkCut: a 64 MiB transfer on a connection between neighbours
// completes intact across a cut of the link's TCP connection, on the same
// link (no new link), resumed at both ends.
func TestResumeLinkCut(t *testing.T) {
	for _, m := range resumeModes {
		t.Run(m.name, func(t *testing.T) {
			ca := newCA(t)
			a, b, p := joinedThrough(t, m.opts(t, ca), m.opts(t, ca))
			c, s := dialed(t, b, a)
			transferAcross(t, c, s, 64<<20, p.cut)
			for _, n := range []*Node{a, b} {
				st := n.Stats()
				if st.LinkResumes < 1 || st.LinkUps != 1 {
					t.Fatalf("node %s: %d resumes, %d links up; want at least 1 resume on the one link", FormatID(n.ID()), st.LinkResumes, st.LinkUps)
				}
			}
		})
	}
}

// TestResumeLinkCircuit: a 64 MiB transfer on a circuit A–B–C completes
// intact across a cut of the link A–B.
func TestResumeLinkCircuit(t *testing.T) {
	a, b, p := joinedThrough(t, nil, nil)
	c := newNode(t)
	attach(t, b, c)
	waitRoute(t, a, c.ID(), 2)
	waitRoute(t, c, a.ID(), 2)
	cc, sc := dialed(t, a, c)
	transferAcross(t, cc, sc, 64<<20, p.cut)
	if st := b.Stats(); st.LinkResumes < 1 {
		t.Fatalf("B resumed %d links, want 1", st.LinkResumes)
	}
	waitRoute(t, a, c.ID(), 2)
}

// TestResumeLinkFrozen: a path silent for longer than the keep-alive
// timeout breaks the link, which resumes over a new connection within the
// window: the connection on it carries on.
func TestResumeLinkFrozen(t *testing.T) {
	ka := WithKeepAlive(50*time.Millisecond, 300*time.Millisecond)
	a, b, p := joinedThrough(t, []Option{ka}, []Option{ka})
	c, s := dialed(t, b, a)
	go io.Copy(s, s)
	roundTrip(t, c, "before")
	p.freeze()
	eventually(t, "both ends to see the break", func() bool {
		return a.Stats().LinkBreaks >= 1 && b.Stats().LinkBreaks >= 1
	})
	eventually(t, "the link to resume", func() bool {
		return a.Stats().LinkResumes >= 1 && b.Stats().LinkResumes >= 1
	})
	roundTrip(t, c, "after")
	waitRoute(t, b, a.ID(), 1)
	if st := b.Stats(); st.LinkUps != 1 {
		t.Fatalf("%d links came up, want 1 (the same link, resumed)", st.LinkUps)
	}
}

// TestResumeLinkWindowOver: with no path back within the resume window,
// the connections on the link fail with ErrResumeTimeout, and the link
// comes back as a new link once the path does.
func TestResumeLinkWindowOver(t *testing.T) {
	opts := []Option{WithKeepAlive(50*time.Millisecond, 300*time.Millisecond), WithResumeWindow(500 * time.Millisecond)}
	a, b, p := joinedThrough(t, opts, opts)
	c, s := dialed(t, b, a)
	go io.Copy(s, s)
	roundTrip(t, c, "before")
	p.block(true)
	p.cut()
	c.SetReadDeadline(time.Now().Add(patience))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, ErrResumeTimeout) {
		t.Fatalf("read on a link past its window: %v, want ErrResumeTimeout", err)
	}
	t.Logf("the connection failed with: %v", err)
	p.block(false)
	eventually(t, "a new link", func() bool { return b.Stats().LinkUps >= 2 })
	c2, s2 := dialed(t, b, a)
	go io.Copy(s2, s2)
	roundTrip(t, c2, "new link")
}

// TestResumeLinkHijack: a resume of the link's id from another node is
// refused and counted, and the link goes on (secured: another
// certificate; insecure: the MAC of another key).
func TestResumeLinkHijack(t *testing.T) {
	for _, m := range resumeModes {
		t.Run(m.name, func(t *testing.T) {
			ca := newCA(t)
			ka := WithKeepAlive(50*time.Millisecond, 300*time.Millisecond)
			a, b, p := joinedThrough(t, append(m.opts(t, ca), ka), append(m.opts(t, ca), ka))
			c, s := dialed(t, b, a)
			go io.Copy(s, s)
			roundTrip(t, c, "before")
			l := linkOf(a, b.ID())
			if l == nil || l.res == nil {
				t.Fatal("the link is not resumable")
			}
			id := l.res.ID()
			// On an insecure mesh, the link must be suspended for a
			// resume to reach the MAC: break it, with no way back.
			if a.c.ident == nil {
				p.block(true)
				p.cut()
				eventually(t, "the break", func() bool { return l.suspended() })
			}
			ln := a.c.join.serving[0].addr.String()
			conn, err := net.Dial("tcp", ln)
			if err != nil {
				t.Fatal(err)
			}
			var rw io.ReadWriteCloser = conn
			if a.c.ident != nil {
				m := newNode(t, m.opts(t, ca)...)
				var pc peerCert
				tc, err := m.c.tlsHandshake(ctxT(t), conn, true, 0, &pc, nil, alpnResume)
				if err != nil {
					t.Fatal(err)
				}
				rw = tc
			}
			pf := preface{kind: prefaceResume, id: id}
			rw.Write(pf.marshal())
			var st [1]byte
			if _, err := io.ReadFull(rw, st[:]); err != nil {
				t.Fatal(err)
			}
			if a.c.ident != nil {
				if st[0] != statusRefused {
					t.Fatalf("status %d, want refused", st[0])
				}
				rw.Close()
			} else {
				if st[0] != statusOK {
					t.Fatalf("status %d, want ok (the MAC decides)", st[0])
				}
				x, y := net.Pipe()
				y.Close()
				fake, err := resume.NewPeer(id, x, nil)
				if err != nil {
					t.Fatal(err)
				}
				fake.Break(nil)
				fake.SetKey(make([]byte, 32))
				// Closed only after the exchange: a forger that hung up
				// before its RESUME was out would not be refused but cut.
				err = fake.Resume(ctxT(t), noClose{rw})
				fake.Close()
				rw.Close()
				if err == nil {
					t.Fatal("a resume with another key succeeded")
				}
				t.Logf("the forged resume: %v", err)
			}
			eventually(t, "the refusal counted", func() bool { return a.Stats().LinkResumesRefused >= 1 })
			p.block(false)
			roundTrip(t, c, "after")
			if st := b.Stats(); st.LinkUps != 1 {
				t.Fatalf("%d links came up, want 1", st.LinkUps)
			}
		})
	}
}

// TestResumeLinkReplayBound: while the peer acknowledges nothing (a
// frozen path, no way back), writers on the link block, and the replay
// state of the link stays within its bound: the link's receive window.
func TestResumeLinkReplayBound(t *testing.T) {
	lc := WithLinkConfig(&mux.Config{StreamWindow: 64 << 10, SessionWindow: 256 << 10, ClassWindow: 256 << 10})
	opts := []Option{lc, WithKeepAlive(50*time.Millisecond, 300*time.Millisecond)}
	a, b, p := joinedThrough(t, opts, opts)
	l := linkOf(b, a.ID())
	bound := int(b.c.linkWindow())
	const streams = 8
	var conns []net.Conn
	for range streams {
		c, _ := dialed(t, b, a) // nobody reads at a
		conns = append(conns, c)
	}
	p.block(true)
	p.freeze()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
	eventually(t, "the link suspended", func() bool { return l.suspended() })
	var last resume.Stats
	defer func() { t.Logf("last: %+v", last) }()
	eventually(t, "the writers to fill what the peer may take", func() bool {
		st := l.res.Stats()
		if st.ReplayBytes > bound || st.ReplayMemory > bound+64<<10 {
			t.Fatalf("replay: %d bytes in %d of memory, bound %d", st.ReplayBytes, st.ReplayMemory, bound)
		}
		last = st
		return st.ReplayBytes >= 192<<10
	})
	st := l.res.Stats()
	t.Logf("replay while suspended: %d bytes, %d of memory (bound %d)", st.ReplayBytes, st.ReplayMemory, bound)
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}

// TestResumeLinkPlainPeer: a node that does not resume links (WithResume
// false) links with one that does, both ways, as a plain link.
func TestResumeLinkPlainPeer(t *testing.T) {
	for _, m := range resumeModes {
		t.Run(m.name, func(t *testing.T) {
			ca := newCA(t)
			for _, off := range []string{"server", "client"} {
				ao, bo := m.opts(t, ca), m.opts(t, ca)
				if off == "server" {
					ao = append(ao, WithResume(false))
				} else {
					bo = append(bo, WithResume(false))
				}
				a, b, _ := joinedThrough(t, ao, bo)
				if l := linkOf(b, a.ID()); l == nil || l.res != nil {
					t.Fatalf("%s off: the link is resumable", off)
				}
				c, s := dialed(t, b, a)
				go io.Copy(s, s)
				roundTrip(t, c, "plain")
				a.Close()
				b.Close()
			}
		})
	}
}

// noClose is a connection whose Close does nothing.
type noClose struct{ io.ReadWriteCloser }

func (noClose) Close() error { return nil }
