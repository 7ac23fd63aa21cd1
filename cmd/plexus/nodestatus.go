package main

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/mesh"
)

// nodeProvider is the status.Provider of a running node: it reads the
// snapshot of the status API from the mesh.Node's introspection.
type nodeProvider struct {
	node *mesh.Node
	// sidecars, if set, are the node's --expose and --forward.
	sidecars interface{ info() []sidecarInfo }
}

// Status takes a snapshot of the node.
func (p *nodeProvider) Status(ctx context.Context) (*status.Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := p.node
	now := time.Now()
	info := n.Info()
	st := &status.Status{
		Time: now,
		Node: status.Node{
			ID:            mesh.FormatID(info.ID),
			Name:          info.Name,
			NodeName:      info.NodeName,
			NameVerified:  info.NameVerified,
			Relay:         info.Relay,
			Secure:        info.Secure,
			Started:       info.Started,
			UptimeSeconds: now.Sub(info.Started).Seconds(),
			CertPolicy:    info.CertPolicy,
			RevokedSeq:    info.Revocation.Seq,
			RevokedCount:  info.Revocation.Count,
		},
	}
	if !info.CertNotAfter.IsZero() {
		t := info.CertNotAfter
		st.Node.CertNotAfter = &t
	}
	for _, a := range info.Listen {
		st.Node.Listen = append(st.Node.Listen, a.Network()+"://"+a.String())
	}
	for _, l := range n.Links() {
		var addr string
		if l.RemoteAddr != nil {
			addr = l.RemoteAddr.String()
		}
		var suspendedSince *time.Time
		if l.Suspended {
			suspendedSince = timePtr(l.SuspendedSince)
		}
		st.Links = append(st.Links, status.Link{
			Peer:      mesh.FormatID(l.Peer),
			PeerName:  l.PeerName,
			Addr:      addr,
			Dialer:    l.Dialer,
			UpSince:   l.Since,
			RTTMillis: float64(l.Stats.RTT) / float64(time.Millisecond),
			BytesIn:   l.Stats.BytesIn,
			BytesOut:  l.Stats.BytesOut,
			Streams:   l.Conns,
			Direct:    l.Direct,

			Suspended:      l.Suspended,
			SuspendedSince: suspendedSince,
		})
	}
	// One Topology gives the names of every node the snapshot shows,
	// read from the records once; a node it does not hold (a neighbour
	// whose record has not come) is asked for by NodeName.
	topo := n.Topology()
	names := nodeNames{n: n, m: make(map[uint64]string, len(topo.Nodes))}
	for _, tn := range topo.Nodes {
		names.m[tn.ID] = tn.Name
	}
	routes := n.Routes()
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Hops != routes[j].Hops {
			return routes[i].Hops < routes[j].Hops
		}
		return routes[i].Host < routes[j].Host
	})
	for _, r := range routes {
		st.Routes = append(st.Routes, status.Route{
			Host: mesh.FormatID(r.Host), HostName: names.of(r.Host),
			NextHop: mesh.FormatID(r.NextHop), NextHopName: names.of(r.NextHop),
			Hops: r.Hops,
		})
	}
	services := n.Services()
	sort.Slice(services, func(i, j int) bool {
		a, b := services[i], services[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Hops != b.Hops {
			return a.Hops < b.Hops
		}
		return a.Host < b.Host
	})
	for _, s := range services {
		st.Services = append(st.Services, status.Service{Name: s.Name, Host: mesh.FormatID(s.Host), HostName: names.of(s.Host), Port: s.Port, Hops: s.Hops})
	}
	for _, c := range n.Circuits() {
		if c.Role != mesh.CircuitRelayed {
			st.Relayed = append(st.Relayed, relayedPair(n.ID(), c, names.of))
			continue
		}
		st.Circuits = append(st.Circuits, status.Circuit{
			Source: mesh.FormatID(c.Source), Dest: mesh.FormatID(c.Dest),
			Prev: mesh.FormatID(c.Prev), Next: mesh.FormatID(c.Next),
			Since: c.Since, Bytes: c.Bytes,
			SourceName: names.of(c.Source), DestName: names.of(c.Dest),
			PrevName: names.of(c.Prev), NextName: names.of(c.Next),
		})
	}
	st.Graph = graph(topo)
	st.Joins = joins(n, n.Joins())
	if p.sidecars != nil {
		for _, s := range p.sidecars.info() {
			sc := status.Sidecar{Kind: s.Kind, Spec: s.Spec, Listen: s.Listen, Open: s.Open, Total: s.Total}
			if s.Err != nil {
				sc.Error, sc.ErrorTime = s.Err.Error(), timePtr(s.ErrTime)
			}
			st.Sidecars = append(st.Sidecars, sc)
		}
	}
	return st, nil
}

// relayedPair is the status API's view of a circuit c that ends at the
// node self: the far host and the relays between, in order from self.
func relayedPair(self uint64, c mesh.CircuitInfo, name func(uint64) string) status.RelayedPair {
	far, path := c.Dest, c.Path
	if c.Role == mesh.CircuitDest {
		far = c.Source
		path = slices.Clone(path)
		slices.Reverse(path)
	}
	rp := status.RelayedPair{
		Host: mesh.FormatID(far), HostName: name(far), Dialed: c.Role == mesh.CircuitSource,
		Via: []status.Hop{}, Streams: c.Stats.Streams, Bytes: c.Bytes, Since: c.Since,
		Resumable: c.Resumable, Resumes: c.Resumes,
	}
	for _, id := range path {
		if id != self && id != far {
			rp.Via = append(rp.Via, status.Hop{ID: mesh.FormatID(id), Name: name(id)})
		}
	}
	return rp
}

// joins is the status API's view of the node's joins.
func joins(n *mesh.Node, js []mesh.JoinInfo) []status.Join {
	var out []status.Join
	for _, j := range js {
		sj := status.Join{Addr: j.Addr, State: j.State.String(), Since: j.Since}
		if j.State == mesh.JoinUp {
			sj.Peer = mesh.FormatID(j.Peer)
			sj.PeerName, _ = n.NodeName(j.Peer)
		}
		if j.LastError != nil && j.State != mesh.JoinUp {
			sj.Error, sj.ErrorTime = j.LastError.Error(), timePtr(j.LastErrorTime)
		}
		if !j.NextTry.IsZero() {
			sj.NextTry = timePtr(j.NextTry)
		}
		out = append(out, sj)
	}
	return out
}

// timePtr returns a pointer to a copy of t.
func timePtr(t time.Time) *time.Time { return &t }

// graph is the status page's view of a Topology: every node, and the
// links both of whose ends announce them. A service of another env than
// the default is named env/name.
func graph(t mesh.Topology) status.Graph {
	var g status.Graph
	for _, tn := range t.Nodes {
		gn := status.GraphNode{ID: mesh.FormatID(tn.ID), Name: tn.Name, NameVerified: tn.NameVerified, Relay: tn.Relay, Reachable: tn.Reachable, Hops: tn.Hops}
		for _, s := range tn.Services {
			name := s.Name
			if s.Env != "" {
				name = s.Env + "/" + s.Name
			}
			gn.Services = append(gn.Services, name)
		}
		g.Nodes = append(g.Nodes, gn)
	}
	for _, l := range t.Links {
		if l.Mutual {
			g.Links = append(g.Links, status.GraphLink{A: mesh.FormatID(l.A), B: mesh.FormatID(l.B)})
		}
	}
	return g
}

// nodeNames are the names of the nodes of a snapshot, by id.
type nodeNames struct {
	n *mesh.Node
	m map[uint64]string
}

// of returns the name of node id, "" when it has none.
func (nn nodeNames) of(id uint64) string {
	if name, ok := nn.m[id]; ok {
		return name
	}
	name, _ := nn.n.NodeName(id)
	nn.m[id] = name
	return name
}
