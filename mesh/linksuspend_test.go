package mesh

import (
	"testing"
	"time"
)

// TestLinkInfoSuspended: Links says when a resumable link is suspended,
// its connection broken, and since when, at both ends; and no longer once
// it resumed.
func TestLinkInfoSuspended(t *testing.T) {
	ka := WithKeepAlive(50*time.Millisecond, 300*time.Millisecond)
	a, b, p := joinedThrough(t, []Option{ka}, []Option{ka})
	for _, n := range []*Node{a, b} {
		peer := map[*Node]uint64{a: b.ID(), b: a.ID()}[n]
		li, ok := linkTo(n, peer)
		if !ok {
			t.Fatalf("node %s: no link", FormatID(n.ID()))
		}
		if li.Suspended || !li.SuspendedSince.IsZero() {
			t.Fatalf("node %s: a link up says suspended (since %v)", FormatID(n.ID()), li.SuspendedSince)
		}
	}
	was, _ := linkTo(a, b.ID()) // the acceptor's view: the proxy's port
	before := time.Now()
	p.block(true)
	p.cut()
	for _, n := range []*Node{a, b} {
		peer := map[*Node]uint64{a: b.ID(), b: a.ID()}[n]
		var li LinkInfo
		eventually(t, "the link to show suspended", func() bool {
			var ok bool
			li, ok = linkTo(n, peer)
			return ok && li.Suspended
		})
		if li.SuspendedSince.Before(before) || li.SuspendedSince.After(time.Now()) {
			t.Fatalf("node %s: suspended since %v, the cut was at %v", FormatID(n.ID()), li.SuspendedSince, before)
		}
	}
	p.block(false)
	for _, n := range []*Node{a, b} {
		peer := map[*Node]uint64{a: b.ID(), b: a.ID()}[n]
		eventually(t, "the link to show up again", func() bool {
			li, ok := linkTo(n, peer)
			return ok && !li.Suspended && li.SuspendedSince.IsZero()
		})
	}
	if st := b.Stats(); st.LinkUps != 1 {
		t.Fatalf("%d links came up, want 1 (the same link, resumed)", st.LinkUps)
	}
	// The resumed link shows its new connection's addresses.
	if now, _ := linkTo(a, b.ID()); now.RemoteAddr == nil || now.RemoteAddr.String() == was.RemoteAddr.String() {
		t.Fatalf("after the resume the acceptor shows the remote address %v, as before (%v)", now.RemoteAddr, was.RemoteAddr)
	}
}
