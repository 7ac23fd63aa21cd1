package status

import (
	"context"
	"errors"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"reflect"
	"strings"
	"testing"
	"time"
)

// snap builds a snapshot seen from idA for the diff tests.
type snap struct {
	links    []string // peers
	reach    []string // reachable nodes besides idA
	lost     []string // nodes in the graph, unreachable
	services []string // "name@host"
	joins    map[string]string
}

func (s snap) status(t time.Time) *Status {
	st := &Status{Time: t, Node: Node{ID: idA}}
	names := map[string]string{idB: "bravo", idC: "charlie"}
	for _, p := range s.links {
		st.Links = append(st.Links, Link{Peer: p, PeerName: names[p]})
	}
	st.Graph.Nodes = append(st.Graph.Nodes, GraphNode{ID: idA, Reachable: true})
	for _, id := range s.reach {
		st.Graph.Nodes = append(st.Graph.Nodes, GraphNode{ID: id, Name: names[id], Reachable: true, Hops: 1})
	}
	for _, id := range s.lost {
		st.Graph.Nodes = append(st.Graph.Nodes, GraphNode{ID: id, Name: names[id], Hops: -1})
	}
	for _, sv := range s.services {
		name, host, _ := strings.Cut(sv, "@")
		st.Services = append(st.Services, Service{Name: name, Host: host, Port: 1})
	}
	for addr, state := range s.joins {
		j := Join{Addr: addr, State: state}
		if state == "refused" {
			j.Error = "not a member"
		}
		if state == "up" {
			j.Peer, j.PeerName = idB, "bravo"
		}
		st.Joins = append(st.Joins, j)
	}
	return st
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name string
		a, b snap
		want []string // kind: text
	}{
		{"nothing changed", snap{links: []string{idB}, reach: []string{idB}}, snap{links: []string{idB}, reach: []string{idB}}, nil},
		{"a link comes up", snap{}, snap{links: []string{idB}},
			[]string{"link-up: link up to bravo (b2d9f310)"}},
		{"a link goes down", snap{links: []string{idB, idC}}, snap{links: []string{idC}},
			[]string{"link-down: link down to bravo (b2d9f310)"}},
		{"a node becomes reachable", snap{lost: []string{idC}}, snap{reach: []string{idC}},
			[]string{"node-up: node charlie (c3e05a2b) reachable"}},
		{"a new node appears", snap{}, snap{reach: []string{idB}},
			[]string{"node-up: node bravo (b2d9f310) reachable"}},
		{"a node is lost", snap{reach: []string{idB, idC}}, snap{reach: []string{idB}, lost: []string{idC}},
			[]string{"node-lost: node charlie (c3e05a2b) lost"}},
		{"a node leaves the graph", snap{reach: []string{idC}}, snap{},
			[]string{"node-lost: node charlie (c3e05a2b) lost"}},
		{"an unreachable node stays so", snap{lost: []string{idC}}, snap{lost: []string{idC}}, nil},
		{"services added and withdrawn", snap{services: []string{"echo@" + idC}}, snap{services: []string{"web@" + idB, "db@" + idB}},
			[]string{"service-added: service db added on b2d9f310", "service-added: service web added on b2d9f310", "service-withdrawn: service echo withdrawn on c3e05a2b"}},
		{"a join is refused", snap{joins: map[string]string{"tcp://x:1": "connecting"}}, snap{joins: map[string]string{"tcp://x:1": "refused"}},
			[]string{"join-error: join tcp://x:1 refused: not a member"}},
		{"a join redials", snap{joins: map[string]string{"tcp://x:1": "up"}}, snap{joins: map[string]string{"tcp://x:1": "redialing"}},
			[]string{"join-error: join tcp://x:1 redialing"}},
		{"a join stays refused", snap{joins: map[string]string{"tcp://x:1": "refused"}}, snap{joins: map[string]string{"tcp://x:1": "refused"}}, nil},
		{"a join comes back up", snap{joins: map[string]string{"tcp://x:1": "redialing"}}, snap{joins: map[string]string{"tcp://x:1": "up"}},
			[]string{"join-up: join tcp://x:1 up to bravo (b2d9f310)"}},
		{"a new join connecting is no news", snap{}, snap{joins: map[string]string{"tcp://x:1": "connecting"}}, nil},
		{"a link and its node together", snap{links: []string{idB}, reach: []string{idB}, services: []string{"echo@" + idB}}, snap{lost: []string{idB}},
			[]string{"link-down: link down to bravo (b2d9f310)", "node-lost: node bravo (b2d9f310) lost", "service-withdrawn: service echo withdrawn on bravo (b2d9f310)"}},
	}
	t0 := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range diff(tt.a.status(t0), tt.b.status(t0.Add(time.Second))) {
				got = append(got, e.Kind+": "+e.Text)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	r := NewRecorder(3)
	r.Observe(snap{links: []string{idB}, reach: []string{idB, idC}}.status(t0))
	if e := r.Events(); len(e) != 0 {
		t.Fatalf("the baseline made events: %v", e)
	}
	// Flap the link to b four times: eight events, the last three kept.
	for i := 1; i <= 8; i++ {
		s := snap{reach: []string{idB, idC}}
		if i%2 == 0 {
			s.links = []string{idB}
		}
		r.Observe(s.status(t0.Add(time.Duration(i) * time.Second)))
	}
	got := r.Events()
	if len(got) != 3 {
		t.Fatalf("kept %d events, want 3: %v", len(got), got)
	}
	for i, want := range []string{EventLinkUp, EventLinkDown, EventLinkUp} {
		if got[i].Kind != want || !got[i].Time.Equal(t0.Add(time.Duration(6+i)*time.Second)) {
			t.Errorf("event %d: %s at %v, want %s at %v", i, got[i].Kind, got[i].Time, want, t0.Add(time.Duration(6+i)*time.Second))
		}
	}
	// An older snapshot is ignored.
	r.Observe(snap{}.status(t0))
	if e := r.Events(); !reflect.DeepEqual(e, got) {
		t.Errorf("an old snapshot changed the events: %v", e)
	}
	// c is lost: its last-seen time is the last snapshot where it was
	// reachable, and stays so.
	lost := t0.Add(20 * time.Second)
	r.Observe(snap{links: []string{idB}, reach: []string{idB}, lost: []string{idC}}.status(lost))
	r.Observe(snap{links: []string{idB}, reach: []string{idB}, lost: []string{idC}}.status(lost.Add(time.Second)))
	st := snap{links: []string{idB}, reach: []string{idB}, lost: []string{idC}}.status(lost.Add(2 * time.Second))
	r.Fill(st)
	for _, n := range st.Graph.Nodes {
		switch {
		case n.ID == idC && (n.LastSeen == nil || !n.LastSeen.Equal(t0.Add(8*time.Second))):
			t.Errorf("c's last seen: %v, want %v", n.LastSeen, t0.Add(8*time.Second))
		case n.ID != idC && n.LastSeen != nil:
			t.Errorf("%s is reachable but has a last seen: %v", n.ID, n.LastSeen)
		}
	}
	if last := st.Events[len(st.Events)-1]; last.Kind != EventNodeLost || last.Node != idC {
		t.Errorf("last event %+v, want c lost", last)
	}
	if NewRecorder(0).max != DefaultEvents {
		t.Errorf("NewRecorder(0) keeps %d events, want %d", NewRecorder(0).max, DefaultEvents)
	}
}

// TestRecorderRun checks that Run observes until its context ends, and
// that a failing provider is no problem.
func TestRecorderRun(t *testing.T) {
	fake := newFakeMesh()
	r := NewRecorder(0)
	calls := 0
	p := ProviderFunc(func(ctx context.Context) (*Status, error) {
		calls++
		if calls%3 == 0 {
			return nil, errors.New("flaky")
		}
		return fake.Status(ctx)
	})
	base, _ := fake.Status(context.Background())
	r.Observe(base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, p, time.Millisecond) }()
	fake.cutLink()
	testutil.Eventually(t, "a node-lost event after the cut", func() bool {
		for _, e := range r.Events() {
			if e.Kind == EventNodeLost {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}
