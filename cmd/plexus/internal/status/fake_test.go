package status

import (
	"context"
	"sync"
	"time"
)

// fakeMesh is a Provider of a small mesh that a test changes, seen from
// a (gw-paris). Six nodes:
//
//	c (db-1) - b (relay-fra) - a (gw-paris) - f (edge-lon) - e
//	                 \            |                          |
//	                  `------- d (web-1) --------------------'
//
// b and f relay, a too; c offers postgres and echo, d web (its name is
// not verified by a certificate), e has no name. a joins b and keeps
// redialing a far address; it exposes web and forwards to postgres. Its
// certificate expires in 20 days. cutLink takes the link b - c down: c
// is lost, and the far address refuses a.
type fakeMesh struct {
	mu      sync.Mutex
	start   time.Time
	cut     bool   // the link b - c is down
	bytesIn uint64 // grows on every snapshot: traffic on a's link to b
	calls   int
}

// Node ids of the fake mesh.
const (
	idA = "a1c4e2f09b3d5e71"
	idB = "b2d9f3104c6e8a52"
	idC = "c3e05a2b7d9f1c63"
	idD = "d4f16b3c8ea02d74"
	idE = "e5072c4d9fb13e85"
	idF = "f6183d5ea0c24f96"
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
	expiry := now.Add(20 * 24 * time.Hour)
	redial := now.Add(4 * time.Second)
	failed := now.Add(-3 * time.Second)
	st := &Status{
		Time: now,
		Node: Node{ID: idA, Name: "acme-prod", NodeName: "gw-paris", NameVerified: true, CertNotAfter: &expiry,
			Relay: true, Secure: true, CertPolicy: true, RevokedSeq: 3, RevokedCount: 1, Started: f.start,
			UptimeSeconds: now.Sub(f.start).Seconds(), Listen: []string{"tcp://127.0.0.1:7000"}},
		Links: []Link{
			{Peer: idB, PeerName: "relay-fra", Addr: "127.0.0.1:7001", Dialer: true, UpSince: f.start, RTTMillis: 0.42,
				BytesIn: f.bytesIn, BytesOut: f.bytesIn / 4, Streams: 3},
			{Peer: idD, PeerName: "web-1", Addr: "10.20.30.40:51234", UpSince: f.start.Add(time.Minute), RTTMillis: 1.8,
				BytesIn: f.bytesIn * 6, BytesOut: f.bytesIn * 2, Streams: 12},
			{Peer: idF, PeerName: "edge-lon", Addr: "192.168.100.200:7000", Dialer: true, UpSince: f.start.Add(2 * time.Minute), RTTMillis: 11.3,
				BytesIn: f.bytesIn / 50, BytesOut: f.bytesIn / 10, Streams: 1},
		},
		Routes: []Route{
			{Host: idB, HostName: "relay-fra", NextHop: idB, NextHopName: "relay-fra", Hops: 1},
			{Host: idD, HostName: "web-1", NextHop: idD, NextHopName: "web-1", Hops: 1},
			{Host: idF, HostName: "edge-lon", NextHop: idF, NextHopName: "edge-lon", Hops: 1},
			{Host: idE, NextHop: idD, NextHopName: "web-1", Hops: 2},
		},
		Services: []Service{
			{Name: "web", Host: idD, HostName: "web-1", Port: 1, Hops: 1},
		},
		Circuits: []Circuit{
			{Source: idD, SourceName: "web-1", Dest: idF, DestName: "edge-lon", Prev: idD, PrevName: "web-1", Next: idF, NextName: "edge-lon",
				Since: f.start.Add(5 * time.Minute), Bytes: f.bytesIn * 3},
			{Source: idE, Dest: idB, DestName: "relay-fra", Prev: idF, PrevName: "edge-lon", Next: idB, NextName: "relay-fra",
				Since: f.start.Add(7 * time.Minute), Bytes: 123_456_789},
		},
		Relayed: []RelayedPair{
			{Host: idE, Via: []Hop{{ID: idD, Name: "web-1"}}, Dialed: true, Streams: 2, Bytes: 4_200_000, Since: f.start.Add(9 * time.Minute)},
		},
		Graph: Graph{
			Nodes: []GraphNode{
				{ID: idA, Name: "gw-paris", NameVerified: true, Relay: true, Reachable: true, Hops: 0},
				{ID: idB, Name: "relay-fra", NameVerified: true, Relay: true, Reachable: true, Hops: 1},
				{ID: idC, Name: "db-1", NameVerified: true, Reachable: !f.cut, Hops: 2, Services: []string{"echo", "postgres"}},
				{ID: idD, Name: "web-1", Reachable: true, Hops: 1, Services: []string{"web"}},
				{ID: idE, Reachable: true, Hops: 2},
				{ID: idF, Name: "edge-lon", NameVerified: true, Relay: true, Reachable: true, Hops: 1},
			},
			Links: []GraphLink{{A: idA, B: idB}, {A: idA, B: idD}, {A: idA, B: idF}, {A: idB, B: idD}, {A: idD, B: idE}, {A: idE, B: idF}},
		},
		Joins: []Join{
			{Addr: "tcp://127.0.0.1:7001", State: "up", Peer: idB, PeerName: "relay-fra", Since: f.start},
			{Addr: "tcp://192.168.100.200:7000", State: "up", Peer: idF, PeerName: "edge-lon", Since: f.start.Add(2 * time.Minute)},
			{Addr: "tcp://203.0.113.9:7000", State: "redialing", Since: f.start, Error: "dial tcp 203.0.113.9:7000: connect: connection refused",
				ErrorTime: &failed, NextTry: &redial},
		},
		Sidecars: []Sidecar{
			{Kind: "expose", Spec: "web=127.0.0.1:8080", Listen: "web", Open: 2, Total: 4711},
			{Kind: "forward", Spec: "127.0.0.1:5432=postgres", Listen: "127.0.0.1:5432", Open: 0, Total: 12,
				Error: "dial postgres: no route to db-1", ErrorTime: &failed},
		},
	}
	if !f.cut {
		st.Routes = append(st.Routes, Route{Host: idC, HostName: "db-1", NextHop: idB, NextHopName: "relay-fra", Hops: 2})
		st.Services = append([]Service{
			{Name: "echo", Host: idC, HostName: "db-1", Port: 1, Hops: 2},
			{Name: "postgres", Host: idC, HostName: "db-1", Port: 2, Hops: 2},
		}, st.Services...)
		st.Graph.Links = append(st.Graph.Links, GraphLink{A: idB, B: idC})
	} else {
		st.Graph.Nodes[2].Hops = -1
		st.Joins[2].State = "refused"
		st.Joins[2].Error = "the far node refused this node: certificate revoked"
	}
	return st, nil
}
