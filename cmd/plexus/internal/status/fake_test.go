package status

import (
	"context"
	"sync"
	"time"
)

// fakeMesh is a Provider of a small mesh that a test changes: three
// nodes in a chain, a - b - c, seen from a; b relays; c offers echo.
type fakeMesh struct {
	mu      sync.Mutex
	start   time.Time
	cut     bool   // the link b - c is down
	bytesIn uint64 // grows on every snapshot: traffic on a's link to b
	calls   int
}

// Node ids of the fake mesh.
const (
	idA = "00000000000000a1"
	idB = "00000000000000b2"
	idC = "00000000000000c3"
)

func newFakeMesh() *fakeMesh { return &fakeMesh{start: time.Now().Add(-90 * time.Minute)} }

// cutLink takes the link b - c down.
func (f *fakeMesh) cutLink() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = true
}

func (f *fakeMesh) Status(ctx context.Context) (*Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.bytesIn += 250_000
	now := time.Now()
	st := &Status{
		Time: now,
		Node: Node{ID: idA, Name: "fake", Relay: true, Secure: true, CertPolicy: true, Started: f.start,
			UptimeSeconds: now.Sub(f.start).Seconds(), Listen: []string{"tcp://127.0.0.1:7000"}},
		Links: []Link{{Peer: idB, Addr: "127.0.0.1:7001", Dialer: true, UpSince: f.start, RTTMillis: 0.42,
			BytesIn: f.bytesIn, BytesOut: f.bytesIn / 4, Streams: 3}},
		Routes: []Route{{Host: idB, NextHop: idB, Hops: 1}},
		Graph: Graph{
			Nodes: []GraphNode{
				{ID: idA, Relay: true, Reachable: true, Hops: 0},
				{ID: idB, Relay: true, Reachable: true, Hops: 1},
				{ID: idC, Relay: false, Reachable: !f.cut, Hops: 2, Services: []string{"echo"}},
			},
			Links: []GraphLink{{A: idA, B: idB}},
		},
	}
	if !f.cut {
		st.Routes = append(st.Routes, Route{Host: idC, NextHop: idB, Hops: 2})
		st.Services = []Service{{Name: "echo", Host: idC, Port: 1, Hops: 2}}
		st.Graph.Links = append(st.Graph.Links, GraphLink{A: idB, B: idC})
	} else {
		st.Graph.Nodes[2].Hops = -1
	}
	return st, nil
}
