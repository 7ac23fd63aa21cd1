package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// The stream of the resumable-circuit step: demoResumeMessages numbered
// messages of demoResumeSize bytes, at most demoResumeWindow of them
// unanswered; the relay dies once demoResumeCloseAt have come back.
const (
	demoResumeMessages = 2000
	demoResumeCloseAt  = 1000
	demoResumeWindow   = 64
	demoResumeFormat   = "message %07d\n"
	demoResumeSize     = len("message 0000000\n")
)

// survive: a second relay joins, alpha streams to echo on beta through
// the first one, the first one closes mid-stream, and the same connection
// carries on through the second. Every node runs resumable circuits
// (startMesh gives them WithResume). The relay that remains is m.relay
// afterwards.
func (m *demoMesh) survive(ctx context.Context, t *tour) error {
	ctx, cancel := context.WithTimeout(ctx, demoPatience)
	defer cancel()
	t.heading("A connection outlives its relay: when the relay on its path dies, alpha's stream to echo carries on through another relay, no byte lost, since every node resumes its circuits (WithResume).")

	// The connection first, while the relay is the only way to beta.
	conn, err := m.alpha.DialContext(ctx, "", "echo")
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}

	relay2, err := m.newNode("relay2", true)
	if err != nil {
		return err
	}
	// relay2 closes last, after alpha and beta (see startMesh): move its
	// stop first, as m.close runs them last first.
	last := m.stops[len(m.stops)-1]
	copy(m.stops[1:], m.stops[:len(m.stops)-1])
	m.stops[0] = last
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := relay2.Serve(ln); err != nil { // it closes ln when relay2 closes
		ln.Close()
		return err
	}
	start := time.Now()
	for _, n := range []*mesh.Node{m.alpha, m.beta} {
		if err := n.Join("tcp", ln.Addr().String()); err != nil {
			return err
		}
	}
	if err := m.waitWays(ctx, relay2); err != nil {
		return err
	}
	t.say("%s, a fourth node with a certificate of the same CA, accepts links on %v; alpha and beta join it too,",
		m.label(relay2.ID()), ln.Addr())
	t.say("and after %v alpha has two ways to beta: through %s and through %s",
		time.Since(start).Round(time.Millisecond), m.label(m.relay.ID()), m.label(relay2.ID()))

	path := m.circuitPath(m.beta.ID())
	if len(path) != 3 {
		return fmt.Errorf("alpha's circuit to beta runs %s, not through one relay", m.pathLabel(path))
	}
	dying, survivor := m.relay, relay2
	if path[1] == relay2.ID() {
		dying, survivor = relay2, m.relay
	}
	t.say("alpha's connection to echo on beta runs on the circuit %s; alpha sends %d numbered", m.pathLabel(path), demoResumeMessages)
	t.say("messages on it (%d B each, at most %d unanswered) and, once %d have come back, closes the node %s",
		demoResumeSize, demoResumeWindow, demoResumeCloseAt, m.label(dying.ID()))

	st, err := streamAcross(ctx, conn, func() { dying.Close() })
	if err != nil {
		return err
	}
	t.say("the same connection carried on: %d of %d messages echoed, in order, none lost or repeated, in %v",
		st.echoed, demoResumeMessages, st.took.Round(time.Millisecond))
	t.say("its longest wait for an echo after the close: %v (the relay's links closed with it, so alpha knew at once;",
		st.pauseAfter.Round(10*time.Microsecond))
	t.say("a relay that freezes instead is found by the links' keep-alive, within 3 s by default)")

	// The circuit carried the messages after the close: it runs on its
	// new path; wait for alpha's view of it all the same.
	for path = m.circuitPath(m.beta.ID()); len(path) != 3 || path[1] != survivor.ID(); path = m.circuitPath(m.beta.ID()) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("alpha's circuit to beta runs %s, not through %s: %w", m.pathLabel(path), m.label(survivor.ID()), ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	var resumes uint64
	for _, c := range m.alpha.Circuits() {
		if c.Role == mesh.CircuitSource && c.Dest == m.beta.ID() {
			resumes = c.Resumes
		}
	}
	ast := m.alpha.Stats()
	t.say("alpha's circuit to beta now runs %s: the same circuit and TLS session,", m.pathLabel(path))
	t.say("resumed (CircuitInfo.Resumes %d; alpha's Stats: CircuitBreaks %d, CircuitResumes %d)", resumes, ast.CircuitBreaks, ast.CircuitResumes)
	m.relay = survivor
	return nil
}

// waitWays waits until alpha knows of two ways to beta: through m.relay
// and through r, each a relay linked to both.
func (m *demoMesh) waitWays(ctx context.Context, r *mesh.Node) error {
	type pair struct{ a, b uint64 }
	key := func(a, b uint64) pair {
		if a > b {
			a, b = b, a
		}
		return pair{a, b}
	}
	var want []pair
	for _, relay := range []uint64{m.relay.ID(), r.ID()} {
		want = append(want, key(m.alpha.ID(), relay), key(relay, m.beta.ID()))
	}
	for {
		topo := m.alpha.Topology()
		links := map[pair]bool{}
		for _, l := range topo.Links {
			if l.Mutual {
				links[key(l.A, l.B)] = true
			}
		}
		ok := true
		for _, p := range want {
			ok = ok && links[p]
		}
		for _, n := range topo.Nodes {
			if n.ID == r.ID() {
				ok = ok && n.Relay && n.Reachable
			}
		}
		if ok && len(m.alpha.Routes()) >= 3 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("alpha does not see two ways to beta: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// circuitPath is the path of alpha's circuit to host, nil if it has none.
func (m *demoMesh) circuitPath(host uint64) []uint64 {
	for _, c := range m.alpha.Circuits() {
		if c.Role == mesh.CircuitSource && c.Dest == host {
			return slices.Clone(c.Path)
		}
	}
	return nil
}

// pathLabel prints a path as its nodes' labels joined by arrows.
func (m *demoMesh) pathLabel(path []uint64) string {
	if len(path) == 0 {
		return "nowhere"
	}
	s := make([]string, len(path))
	for i, id := range path {
		s[i] = m.label(id)
	}
	return strings.Join(s, " → ")
}

// streamStats is what streamAcross measured.
type streamStats struct {
	echoed     int
	took       time.Duration
	pauseAfter time.Duration // the longest wait for an echo from the break on, counted from it
}

// streamAcross sends demoResumeMessages numbered messages on conn, an
// echo, at most demoResumeWindow unanswered, checks that each comes back
// whole and in order, and calls brk once demoResumeCloseAt have.
func streamAcross(ctx context.Context, conn net.Conn, brk func()) (st streamStats, err error) {
	ctx, cancel := context.WithCancel(ctx)
	credit := make(chan struct{}, demoResumeWindow)
	for range demoResumeWindow {
		credit <- struct{}{}
	}
	wrote := make(chan error, 1)
	go func() {
		for i := range demoResumeMessages {
			select {
			case <-credit:
			case <-ctx.Done():
				wrote <- ctx.Err()
				return
			}
			if _, err := fmt.Fprintf(conn, demoResumeFormat, i); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	defer func() {
		if err != nil {
			cancel()
			conn.Close() // unblocks the writer
		}
		if werr := <-wrote; err == nil && werr != nil {
			err = fmt.Errorf("writing to echo: %w", werr)
		}
		cancel()
	}()

	buf := make([]byte, demoResumeSize)
	start := time.Now()
	last := start
	for i := range demoResumeMessages {
		if i == demoResumeCloseAt {
			brk()
			last = time.Now()
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return st, fmt.Errorf("echo of message %d of %d: %w", i, demoResumeMessages, err)
		}
		if want := fmt.Sprintf(demoResumeFormat, i); string(buf) != want {
			return st, fmt.Errorf("echo %d of %d: %q, want %q", i, demoResumeMessages, buf, want)
		}
		now := time.Now()
		if i >= demoResumeCloseAt {
			st.pauseAfter = max(st.pauseAfter, now.Sub(last))
		}
		last = now
		st.echoed++
		credit <- struct{}{}
	}
	st.took = time.Since(start)
	return st, nil
}
