package mesh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// TestTakeWindow: an acceptor takes the least of the window the dialer
// announces and its own, never below the least window of the protocol.
func TestTakeWindow(t *testing.T) {
	for _, tc := range []struct {
		name           string
		announced, own uint32
		want           uint32
	}{
		{"equal", 20 << 20, 20 << 20, 20 << 20},
		{"dialer smaller", 1 << 20, 20 << 20, 1 << 20},
		{"dialer huge", maxResumeBuffer, 20 << 20, 20 << 20},
		{"both least", minResumeBuffer, minResumeBuffer, minResumeBuffer},
		{"own least", maxResumeBuffer, minResumeBuffer, minResumeBuffer},
		{"both most", maxResumeBuffer, maxResumeBuffer, maxResumeBuffer},
		{"below the least", 1, 2, minResumeBuffer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := takeWindow(tc.announced, tc.own); got != tc.want {
				t.Fatalf("takeWindow(%d, %d) = %d, want %d", tc.announced, tc.own, got, tc.want)
			}
		})
	}
}

// TestReadAnswer: the dialer reads the acceptor's answer, and refuses a
// window taken beyond the one it announced or below the least.
func TestReadAnswer(t *testing.T) {
	win := func(st byte, w uint32) []byte { return binary.BigEndian.AppendUint32([]byte{st}, w) }
	const announced = 20 << 20
	for _, tc := range []struct {
		name       string
		kind       byte
		in         []byte
		wantSt     byte
		wantWindow uint32
		wantErr    error // nil: no error
	}{
		{"new taken", prefaceNew, win(statusOK, 1<<20), statusOK, 1 << 20, nil},
		{"new taken all", prefaceNew, win(statusOK, announced), statusOK, announced, nil},
		{"new least", prefaceNew, win(statusOK, minResumeBuffer), statusOK, minResumeBuffer, nil},
		{"new beyond announced", prefaceNew, win(statusOK, announced+1), 0, 0, ErrProtocol},
		{"new huge", prefaceNew, win(statusOK, maxResumeBuffer), 0, 0, ErrProtocol},
		{"new below least", prefaceNew, win(statusOK, minResumeBuffer-1), 0, 0, ErrProtocol},
		{"new zero", prefaceNew, win(statusOK, 0), 0, 0, ErrProtocol},
		{"new short window", prefaceNew, []byte{statusOK, 0, 1}, 0, 0, ErrProtocol},
		{"new nothing", prefaceNew, nil, 0, 0, errNoPreface},
		{"new not an answer", prefaceNew, []byte("PLXMUX"), 'P', 0, nil},
		{"new refused", prefaceNew, []byte{statusRefused}, statusRefused, 0, nil},
		{"resume ok", prefaceResume, []byte{statusOK}, statusOK, 0, nil},
		{"resume unknown", prefaceResume, []byte{statusUnknown}, statusUnknown, 0, nil},
		{"resume refused", prefaceResume, []byte{statusRefused}, statusRefused, 0, nil},
		{"resume nothing", prefaceResume, nil, 0, 0, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.in)
			st, w, err := readAnswer(r, tc.kind, announced)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st != tc.wantSt || w != tc.wantWindow {
				t.Fatalf("status %d window %d, want %d %d", st, w, tc.wantSt, tc.wantWindow)
			}
			if tc.kind == prefaceNew && st == statusOK {
				if got := appendAnswer(nil, tc.kind, st, w); !bytes.Equal(got, tc.in) {
					t.Fatalf("appendAnswer = %x, want %x", got, tc.in)
				}
			}
		})
	}
}

// TestResumeLinkHugeWindow: a dialer that announces the largest window
// (1 GiB) does not make the acceptor hold more replay bytes than its own
// link window. A raw dialer is told the acceptor's window in the answer;
// a node whose link window is huge gets a link whose replay buffer at the
// acceptor stays within the acceptor's window while the acceptor writes
// to it and it reads nothing (a frozen path): the writer blocks. Before
// that, the link carries 8 MiB each way (both ends use the window taken).
func TestResumeLinkHugeWindow(t *testing.T) {
	for _, m := range resumeModes {
		t.Run(m.name, func(t *testing.T) {
			ca := newCA(t)
			ka := WithKeepAlive(50*time.Millisecond, 300*time.Millisecond)
			small := WithLinkConfig(&mux.Config{StreamWindow: 64 << 10, SessionWindow: 256 << 10, ClassWindow: 256 << 10})
			huge := WithLinkConfig(&mux.Config{StreamWindow: 16 << 20, SessionWindow: 768 << 20, ClassWindow: 768 << 20})
			a, b, p := joinedThrough(t, append(m.opts(t, ca), small, ka), append(m.opts(t, ca), huge, ka))
			own, announced := a.c.linkWindow(), b.c.linkWindow()
			if own != 512<<10 || announced != maxResumeBuffer {
				t.Fatalf("windows: acceptor %d, dialer %d", own, announced)
			}
			if a.c.ident == nil {
				rawHugeWindow(t, a, own)
			}
			bound := int(own)
			la, lb := linkOf(a, b.ID()), linkOf(b, a.ID())
			if la == nil || la.res == nil || lb == nil || lb.res == nil {
				t.Fatal("the link is not resumable")
			}
			// The link carries more than its window both ways: the
			// dialer's resume.Conn took the acceptor's window too.
			for _, pair := range [][2]*Node{{a, b}, {b, a}} {
				c, s := dialed(t, pair[0], pair[1])
				transferAcross(t, c, s, 8<<20, func() {})
			}
			w, _ := dialed(t, a, b) // nobody reads at b
			p.block(true)
			p.freeze()
			var written atomic.Int64
			werr := make(chan error, 1)
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := w.Write(buf)
					written.Add(int64(n))
					if err != nil {
						werr <- err
						return
					}
				}
			}()
			check := func() {
				t.Helper()
				if st := la.res.Stats(); st.ReplayBytes > bound || st.ReplayMemory > bound+64<<10 {
					t.Fatalf("acceptor's replay: %d bytes in %d of memory, bound %d (the dialer announced %d)", st.ReplayBytes, st.ReplayMemory, bound, announced)
				}
			}
			eventually(t, "the acceptor's replay buffer to fill", func() bool {
				check()
				return la.res.Stats().ReplayBytes >= bound-64<<10
			})
			// Full: the writer blocks; a write deadline ends its Write.
			w.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			select {
			case err := <-werr:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the blocked write ended with %v, want a deadline", err)
				}
			case <-time.After(patience):
				t.Fatal("the write did not end at its deadline")
			}
			check()
			st := la.res.Stats()
			t.Logf("acceptor's replay: %d bytes, %d of memory (bound %d; the dialer announced %d); the application wrote %d", st.ReplayBytes, st.ReplayMemory, bound, announced, written.Load())
		})
	}
}

// rawHugeWindow sends an insecure node n a new link's preface announcing
// the largest window, and checks that the answer takes n's own.
func rawHugeWindow(t *testing.T, n *Node, own uint32) {
	t.Helper()
	conn, err := net.Dial("tcp", n.c.join.serving[0].addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(patience))
	pf := preface{kind: prefaceNew, window: maxResumeBuffer}
	pf.id[0] = 1
	if _, err := conn.Write(pf.marshal()); err != nil {
		t.Fatal(err)
	}
	st, w, err := readAnswer(conn, prefaceNew, maxResumeBuffer)
	if err != nil {
		t.Fatal(err)
	}
	if st != statusOK || w != own {
		t.Fatalf("answer: status %d, window %d; want 0, %d (the acceptor's own)", st, w, own)
	}
}
