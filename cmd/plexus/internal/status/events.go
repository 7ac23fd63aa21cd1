package status

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DefaultEvents is how many events a Recorder keeps when NewRecorder is
// given no positive bound.
const DefaultEvents = 200

// Kinds of Event.
const (
	EventLinkUp           = "link-up"
	EventLinkDown         = "link-down"
	EventNodeUp           = "node-up"
	EventNodeLost         = "node-lost"
	EventServiceAdded     = "service-added"
	EventServiceWithdrawn = "service-withdrawn"
	EventJoinError        = "join-error"
	EventJoinUp           = "join-up"
)

// A Recorder turns successive snapshots of a node into Events: it
// compares each snapshot it observes with the one before (links up and
// down by peer, nodes reachable or lost in the graph, service instances
// added and withdrawn, joins falling to "refused" or "redialing" and
// back to "up") and keeps the last events, at most a fixed number, the
// oldest dropped first. It also remembers when each node of the graph
// was last reachable, for GraphNode.LastSeen. The first snapshot is the
// baseline and makes no events.
//
// Its memory is bounded: the events by the bound, the rest by the size
// of the last snapshot. A Recorder is safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	max      int
	events   []Event // a ring: the oldest at start once full
	start    int
	prev     *Status              // the last snapshot observed; nil before the first
	lastSeen map[string]time.Time // node id -> last time it was reachable, for the nodes of prev's graph
}

// NewRecorder returns a Recorder that keeps the last max events
// (DefaultEvents when max <= 0).
func NewRecorder(max int) *Recorder {
	if max <= 0 {
		max = DefaultEvents
	}
	return &Recorder{max: max, lastSeen: make(map[string]time.Time)}
}

// Observe compares st with the snapshot observed before and records
// what changed, at st.Time (now, if zero). A snapshot older than the
// last one observed is ignored, so that two goroutines taking snapshots
// at once cannot make a change seem to happen twice. Observe keeps no
// reference to st.
func (r *Recorder) Observe(st *Status) {
	if st == nil {
		return
	}
	at := st.Time
	if at.IsZero() {
		at = time.Now()
	}
	cur := snapshotOf(st)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prev != nil && at.Before(r.prev.Time) {
		return
	}
	cur.Time = at
	if r.prev != nil {
		for _, e := range diff(r.prev, cur) {
			e.Time = at
			r.add(e)
		}
	}
	seen := make(map[string]time.Time, len(cur.Graph.Nodes))
	for _, n := range cur.Graph.Nodes {
		if n.Reachable || n.ID == cur.Node.ID {
			seen[n.ID] = at
		} else if t, ok := r.lastSeen[n.ID]; ok {
			seen[n.ID] = t
		}
	}
	r.lastSeen = seen
	r.prev = cur
}

// add appends e, dropping the oldest event when full. r.mu is held.
func (r *Recorder) add(e Event) {
	if len(r.events) < r.max {
		r.events = append(r.events, e)
		return
	}
	r.events[r.start] = e
	r.start = (r.start + 1) % r.max
}

// Events returns a copy of the events kept, oldest first.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, len(r.events))
	out = append(out, r.events[r.start:]...)
	return append(out, r.events[:r.start]...)
}

// Fill sets st.Events to the events kept and, on each unreachable node
// of st's graph that the Recorder saw reachable, LastSeen.
func (r *Recorder) Fill(st *Status) {
	st.Events = r.Events()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range st.Graph.Nodes {
		n := &st.Graph.Nodes[i]
		if n.Reachable || n.LastSeen != nil {
			continue
		}
		if t, ok := r.lastSeen[n.ID]; ok {
			n.LastSeen = &t
		}
	}
}

// Provider returns a Provider that takes p's snapshot, observes it and
// fills in the events and last-seen times.
func (r *Recorder) Provider(p Provider) Provider {
	return ProviderFunc(func(ctx context.Context) (*Status, error) {
		st, err := p.Status(ctx)
		if err != nil || st == nil {
			return st, err
		}
		if st.Time.IsZero() {
			st.Time = time.Now()
		}
		r.Observe(st)
		r.Fill(st)
		return st, nil
	})
}

// Run observes a snapshot of p every interval until ctx is done, so that
// events are recorded while nobody reads the API. A failing snapshot is
// skipped. It returns ctx's error.
func (r *Recorder) Run(ctx context.Context, p Provider, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if st, err := p.Status(ctx); err == nil && st != nil {
			if st.Time.IsZero() {
				st.Time = time.Now()
			}
			r.Observe(st)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// snapshotOf copies the parts of st that diff compares.
func snapshotOf(st *Status) *Status {
	return &Status{
		Time:     st.Time,
		Node:     Node{ID: st.Node.ID},
		Links:    append([]Link(nil), st.Links...),
		Services: append([]Service(nil), st.Services...),
		Graph:    Graph{Nodes: append([]GraphNode(nil), st.Graph.Nodes...)},
		Joins:    append([]Join(nil), st.Joins...),
	}
}

// label is how an event's text names a node: "name (id8)", or the id8.
func label(id, name string) string {
	short := id
	if len(short) > 8 {
		short = short[:8]
	}
	if name == "" {
		return short
	}
	return name + " (" + short + ")"
}

// diff returns the events that lead from snapshot a to snapshot b, in a
// stable order: links, nodes, services, joins, each sorted. Their Time
// is left for the caller.
func diff(a, b *Status) []Event {
	var out []Event

	// Links, by peer: a second link to the same peer is no news.
	peers := func(st *Status) map[string]string {
		m := make(map[string]string)
		for _, l := range st.Links {
			if name, ok := m[l.Peer]; !ok || name == "" {
				m[l.Peer] = l.PeerName
			}
		}
		return m
	}
	pa, pb := peers(a), peers(b)
	for _, id := range sortedKeys(pb) {
		if _, ok := pa[id]; !ok {
			out = append(out, Event{Kind: EventLinkUp, Node: id, NodeName: pb[id], Text: "link up to " + label(id, pb[id])})
		}
	}
	for _, id := range sortedKeys(pa) {
		if _, ok := pb[id]; !ok {
			out = append(out, Event{Kind: EventLinkDown, Node: id, NodeName: pa[id], Text: "link down to " + label(id, pa[id])})
		}
	}

	// Nodes, by reachability in the graph (this node aside).
	reach := func(st *Status) map[string]string {
		m := make(map[string]string)
		for _, n := range st.Graph.Nodes {
			if n.Reachable && n.ID != st.Node.ID {
				m[n.ID] = n.Name
			}
		}
		return m
	}
	ra, rb := reach(a), reach(b)
	for _, id := range sortedKeys(rb) {
		if _, ok := ra[id]; !ok {
			out = append(out, Event{Kind: EventNodeUp, Node: id, NodeName: rb[id], Text: "node " + label(id, rb[id]) + " reachable"})
		}
	}
	names := make(map[string]string) // the names of b's graph, else a's
	for _, st := range []*Status{a, b} {
		for _, n := range st.Graph.Nodes {
			if n.Name != "" {
				names[n.ID] = n.Name
			}
		}
	}
	for _, id := range sortedKeys(ra) {
		if _, ok := rb[id]; !ok {
			out = append(out, Event{Kind: EventNodeLost, Node: id, NodeName: names[id], Text: "node " + label(id, names[id]) + " lost"})
		}
	}

	// Service instances, by name, host and port.
	type svcKey struct {
		name, host string
		port       uint32
	}
	services := func(st *Status) map[svcKey]Service {
		m := make(map[svcKey]Service)
		for _, s := range st.Services {
			m[svcKey{s.Name, s.Host, s.Port}] = s
		}
		return m
	}
	sa, sb := services(a), services(b)
	svcEvents := func(from, to map[svcKey]Service, kind, verb string) {
		var list []Service
		for k, s := range from {
			if _, ok := to[k]; !ok {
				list = append(list, s)
			}
		}
		sort.Slice(list, func(i, j int) bool {
			x, y := list[i], list[j]
			if x.Name != y.Name {
				return x.Name < y.Name
			}
			if x.Host != y.Host {
				return x.Host < y.Host
			}
			return x.Port < y.Port
		})
		for _, s := range list {
			name := s.HostName
			if name == "" {
				name = names[s.Host]
			}
			out = append(out, Event{Kind: kind, Node: s.Host, NodeName: name,
				Text: fmt.Sprintf("service %s %s on %s", s.Name, verb, label(s.Host, name))})
		}
	}
	svcEvents(sb, sa, EventServiceAdded, "added")
	svcEvents(sa, sb, EventServiceWithdrawn, "withdrawn")

	// Joins, by address: only a change of state is news.
	ja := make(map[string]Join)
	for _, j := range a.Joins {
		ja[j.Addr] = j
	}
	jb := append([]Join(nil), b.Joins...)
	sort.Slice(jb, func(i, j int) bool { return jb[i].Addr < jb[j].Addr })
	for _, j := range jb {
		old, had := ja[j.Addr]
		if had && old.State == j.State {
			continue
		}
		switch j.State {
		case "refused", "redialing":
			text := "join " + j.Addr + " " + j.State
			if j.Error != "" {
				text += ": " + j.Error
			}
			out = append(out, Event{Kind: EventJoinError, Node: j.Peer, NodeName: j.PeerName, Text: text})
		case "up":
			text := "join " + j.Addr + " up"
			if j.Peer != "" {
				text += " to " + label(j.Peer, j.PeerName)
			}
			out = append(out, Event{Kind: EventJoinUp, Node: j.Peer, NodeName: j.PeerName, Text: text})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
