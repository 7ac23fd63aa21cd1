package mesh

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recLog is a slog handler that keeps the records it is given.
type recLog struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recLog) WithGroup(string) slog.Handler      { return h }

// count returns how many records of level have a message that starts
// with msg.
func (h *recLog) count(level slog.Level, msg string) int { return h.countErr(level, msg, "") }

// countErr returns how many records of level have a message that starts
// with msg and an attribute err whose text holds errText.
func (h *recLog) countErr(level slog.Level, msg, errText string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := 0
	for _, r := range h.recs {
		if r.Level != level || !strings.HasPrefix(r.Message, msg) {
			continue
		}
		found := errText == ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" && strings.Contains(a.Value.String(), errText) {
				found = true
			}
			return !found
		})
		if found {
			k++
		}
	}
	return k
}

// deadAddr returns a TCP address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serving starts a listener of n and returns its address.
func serving(t *testing.T, n *Node) string {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Serve(ln); err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String()
}

// TestJoins: Joins tells the state of each join: redialing a dead
// address, with the dial's error and the next try; refused by a node of
// another mesh name, another CA, or the other security, with why; up,
// with the peer.
func TestJoins(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	prod := newNode(t, WithName("prod"))
	prodAddr := serving(t, prod)
	secured := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	securedAddr := serving(t, secured)
	plain := newNode(t)
	plainAddr := serving(t, plain)
	dead := deadAddr(t)
	for _, tc := range []struct {
		name  string
		opts  []Option
		addr  string
		state JoinState
		err   error // the error errors.Is finds in LastError; nil: none
	}{
		{"dead address", nil, dead, JoinRedialing, syscall.ECONNREFUSED},
		{"another mesh", []Option{WithName("dev")}, prodAddr, JoinRefused, ErrMeshMismatch},
		{"another CA", []Option{WithTLS(other.nodeConfig(t, false))}, securedAddr, JoinRefused, ErrNotAuthorized},
		{"insecure to TLS", nil, securedAddr, JoinRefused, nil},
		{"TLS to insecure", []Option{WithTLS(ca.nodeConfig(t, false))}, plainAddr, JoinRefused, nil},
		{"up", []Option{WithName("prod")}, prodAddr, JoinUp, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, tc.opts...)
			if js := n.Joins(); len(js) != 0 {
				t.Fatalf("Joins before Join: %+v", js)
			}
			before := time.Now()
			if err := n.Join("tcp", tc.addr); err != nil {
				t.Fatal(err)
			}
			var j JoinInfo
			eventually(t, "the join to be "+tc.state.String(), func() bool {
				js := n.Joins()
				if len(js) != 1 {
					t.Fatalf("Joins: %+v", js)
				}
				j = js[0]
				return j.State == tc.state
			})
			t.Logf("%s %s since %v: %v", j.Addr, j.State, j.Since, j.LastError)
			if j.Addr != "tcp://"+tc.addr || j.Since.Before(before) {
				t.Fatalf("join %+v", j)
			}
			if tc.state == JoinUp {
				if j.Peer != prod.ID() || !j.NextTry.IsZero() {
					t.Fatalf("up: %+v, want peer %s", j, FormatID(prod.ID()))
				}
				return
			}
			if j.Peer != 0 || j.LastError == nil || j.LastErrorTime.Before(before) || j.NextTry.Before(j.LastErrorTime) {
				t.Fatalf("%s: %+v", tc.state, j)
			}
			if tc.err != nil && !errors.Is(j.LastError, tc.err) {
				t.Fatalf("LastError %v, want %v", j.LastError, tc.err)
			}
		})
	}
}

// TestJoinStateFollowsTheLink: a join that was up goes to redialing
// when its peer goes away, and up again when it comes back.
func TestJoinStateFollowsTheLink(t *testing.T) {
	p := newNode(t)
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	p.Serve(ln)
	n := newNode(t)
	n.Join("tcp", addr)
	state := func(want JoinState) func() bool {
		return func() bool { return n.Joins()[0].State == want }
	}
	eventually(t, "up", state(JoinUp))
	p.Close()
	eventually(t, "redialing", state(JoinRedialing))
	if j := n.Joins()[0]; j.Peer != 0 || j.LastError == nil {
		t.Fatalf("after the peer left: %+v", j)
	}
	q := newNode(t)
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	q.Serve(ln)
	eventually(t, "up again", state(JoinUp))
	if j := n.Joins()[0]; j.Peer != q.ID() {
		t.Fatalf("up again: %+v", j)
	}
	if got := JoinState(0).String(); got != "unknown" {
		t.Fatalf("JoinState(0): %q", got)
	}
}

// TestJoinRefusedWarnsOnce: a refused join is logged at WARN once, and
// at DEBUG on every retry with the same reason.
func TestJoinRefusedWarnsOnce(t *testing.T) {
	prod := newNode(t, WithName("prod"))
	addr := serving(t, prod)
	var logs recLog
	n := newNode(t, WithName("dev"), WithLogger(slog.New(&logs)))
	n.Join("tcp", addr)
	const why = "mesh name mismatch"
	eventually(t, "two refusals at DEBUG", func() bool {
		return logs.countErr(slog.LevelDebug, "mesh: join refused", why) >= 2
	})
	if k := logs.countErr(slog.LevelWarn, "mesh: join refused", why); k != 1 {
		t.Fatalf("%d refusals at WARN, want 1", k)
	}
	if k := logs.countErr(slog.LevelInfo, "mesh: join", why); k != 0 {
		t.Fatalf("%d refusals at INFO, want none", k)
	}
}

// TestNoLinkWarnsOnce: a node that joins and has no live link for
// aloneAfter says so at WARN once; at INFO when a link comes up; and at
// WARN once more when it has lost it for aloneAfter again.
func TestNoLinkWarnsOnce(t *testing.T) {
	var logs recLog
	n := newNode(t, WithLogger(slog.New(&logs)))
	n.c.join.aloneAfter = 20 * time.Millisecond
	n.Join("tcp", deadAddr(t))
	const alone, back = "mesh: no live link", "mesh: a link is up again"
	eventually(t, "the warning", func() bool { return logs.count(slog.LevelWarn, alone) == 1 })
	// Many times aloneAfter later, and a few failed dials, still one
	// warning.
	warned := time.Now()
	eventually(t, "two more failed dials", func() bool {
		return n.Joins()[0].LastErrorTime.After(warned.Add(10 * n.c.join.aloneAfter))
	})
	if k := logs.count(slog.LevelWarn, alone); k != 1 {
		t.Fatalf("%d warnings, want 1", k)
	}
	p := newNode(t)
	l := linked(t, n, p)
	eventually(t, "the link to be said up", func() bool { return logs.count(slog.LevelInfo, back) == 1 })
	l.cut()
	eventually(t, "the second warning", func() bool { return logs.count(slog.LevelWarn, alone) == 2 })
	if k := logs.count(slog.LevelInfo, back); k != 1 {
		t.Fatalf("%d link-back records, want 1", k)
	}

	// A node that neither joins nor serves never warns.
	q := newNode(t)
	linked(t, q, newNode(t))
	q.c.mu.Lock()
	watching := q.c.join.watching
	q.c.mu.Unlock()
	if watching {
		t.Fatal("a node that neither joins nor serves watches its links")
	}
}

// TestCertNotAfter: NodeInfo gives the certificate's expiry of a secured
// node, zero for an insecure one.
func TestCertNotAfter(t *testing.T) {
	ca := newCA(t)
	s := newNode(t, WithTLS(ca.nodeConfig(t, false)))
	want := s.c.ident.creds().leaf.NotAfter
	if got := s.Info().CertNotAfter; got.IsZero() || got.After(want) {
		t.Fatalf("CertNotAfter %v, leaf's NotAfter %v", got, want)
	}
	if got := newNode(t).Info().CertNotAfter; !got.IsZero() {
		t.Fatalf("insecure node: CertNotAfter %v", got)
	}
}
