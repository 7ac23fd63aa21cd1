package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
)

// breakableProxy forwards TCP connections to a target until cut: then it
// closes the pairs open and refuses new ones until mend.
type breakableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cutOff bool
	wg     sync.WaitGroup
}

func newBreakableProxy(t *testing.T, target string) *breakableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &breakableProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *breakableProxy) accept() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		off := p.cutOff
		p.mu.Unlock()
		if off {
			a.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			a.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, a, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(a, b); a.Close() }()
		go func() { defer p.wg.Done(); io.Copy(b, a); b.Close() }()
	}
}

// cut closes the pairs open and refuses new connections.
func (p *breakableProxy) cut() {
	p.mu.Lock()
	p.cutOff = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// mend takes new connections again.
func (p *breakableProxy) mend() {
	p.mu.Lock()
	p.cutOff = false
	p.mu.Unlock()
}

// TestNodeStatusSuspendedLink: the status API says which link is
// suspended (a resumable link whose connection broke) and since when,
// and no longer once it resumed.
func TestNodeStatusSuspendedLink(t *testing.T) {
	opts := []mesh.Option{mesh.WithInsecure(), mesh.WithResume(true), mesh.WithKeepAlive(50*time.Millisecond, 300*time.Millisecond)}
	a, err := mesh.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := mesh.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ln); err != nil {
		t.Fatal(err)
	}
	p := newBreakableProxy(t, ln.Addr().String())
	if err := b.Join("tcp", p.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(status.Handler(&nodeProvider{node: b}))
	defer srv.Close()
	get := func() (*status.Status, string) {
		t.Helper()
		r, err := srv.Client().Get(srv.URL + status.APIPath)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		var st status.Status
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		return &st, string(raw)
	}
	peer := mesh.FormatID(a.ID())
	linkUp := func(st *status.Status) bool {
		return len(st.Links) == 1 && st.Links[0].Peer == peer && !st.Links[0].Suspended
	}
	var st *status.Status
	var raw string
	testutil.Eventually(t, "the link up", func() bool { st, raw = get(); return linkUp(st) })
	if strings.Contains(raw, `"suspended`) || st.Links[0].SuspendedSince != nil {
		t.Fatalf("a link up says suspended: %s", raw)
	}
	before := time.Now()
	p.cut()
	testutil.Eventually(t, "the link suspended", func() bool {
		st, raw = get()
		return len(st.Links) == 1 && st.Links[0].Suspended
	})
	l := st.Links[0]
	if l.SuspendedSince == nil || l.SuspendedSince.Before(before) || l.SuspendedSince.After(time.Now()) || !strings.Contains(raw, `"suspended": true`) || !strings.Contains(raw, `"suspended_since": "`) {
		t.Fatalf("a suspended link, the cut at %v: %+v\n%s", before, l, raw)
	}
	p.mend()
	testutil.Eventually(t, "the link resumed", func() bool { st, raw = get(); return linkUp(st) && st.Links[0].SuspendedSince == nil })
	if s := b.Stats(); s.LinkResumes < 1 || s.LinkUps != 1 {
		t.Fatalf("%d resumes, %d links up; want the one link resumed", s.LinkResumes, s.LinkUps)
	}
}
