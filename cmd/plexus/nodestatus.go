package main

import (
	"context"
	"sort"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/mesh"
)

// nodeProvider is the status.Provider of a running node: it reads the
// snapshot of the status API from the mesh.Node.
type nodeProvider struct {
	s    *started
	name string // the mesh name
	// relay is whether the node relays (--relay).
	relay bool
}

// Status takes a snapshot of the node.
func (p *nodeProvider) Status(ctx context.Context) (*status.Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := p.s.node
	now := time.Now()
	self := mesh.FormatID(n.ID())
	name := p.name
	if name == "" {
		name = mesh.DefaultName
	}
	st := &status.Status{
		Time: now,
		Node: status.Node{
			ID:            self,
			Name:          name,
			Relay:         p.relay,
			Secure:        p.s.secure,
			Started:       p.s.begun,
			UptimeSeconds: now.Sub(p.s.begun).Seconds(),
			Listen:        p.s.listen,
		},
	}
	routes := n.Routes()
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Hops != routes[j].Hops {
			return routes[i].Hops < routes[j].Hops
		}
		return routes[i].Host < routes[j].Host
	})
	for _, r := range routes {
		st.Routes = append(st.Routes, status.Route{Host: mesh.FormatID(r.Host), NextHop: mesh.FormatID(r.NextHop), Hops: r.Hops})
		if r.Hops == 1 {
			st.Links = append(st.Links, status.Link{Peer: mesh.FormatID(r.Host)})
		}
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
	offers := map[uint64][]string{}
	for _, s := range services {
		st.Services = append(st.Services, status.Service{Name: s.Name, Host: mesh.FormatID(s.Host), Port: s.Port, Hops: s.Hops})
		offers[s.Host] = append(offers[s.Host], s.Name)
	}
	st.Graph = routeGraph(n.ID(), p.relay, routes, offers)
	return st, nil
}

// routeGraph draws the mesh as the route table shows it: this node, every
// host it reaches, a link to each neighbour, and for a farther host a
// link from the host one hop nearer on the same next hop (the only one,
// or the lowest id when several could be on the path). It stands in for
// the mesh's link-state database, which mesh does not export yet; relays
// are the hosts that are a next hop's way to another one.
func routeGraph(self uint64, selfRelay bool, routes []mesh.Route, offers map[uint64][]string) status.Graph {
	var g status.Graph
	g.Nodes = append(g.Nodes, status.GraphNode{ID: mesh.FormatID(self), Relay: selfRelay, Reachable: true, Hops: 0, Services: offers[self]})
	byHops := map[int][]mesh.Route{}
	for _, r := range routes {
		byHops[r.Hops] = append(byHops[r.Hops], r)
	}
	relays := map[uint64]bool{}
	var links []status.GraphLink
	link := func(a, b uint64) {
		x, y := mesh.FormatID(a), mesh.FormatID(b)
		if y < x {
			x, y = y, x
		}
		links = append(links, status.GraphLink{A: x, B: y})
	}
	for _, r := range routes {
		if r.Hops <= 1 {
			link(self, r.Host)
			continue
		}
		for _, q := range byHops[r.Hops-1] {
			if q.NextHop == r.NextHop {
				link(q.Host, r.Host)
				relays[q.Host] = true
				break
			}
		}
	}
	for _, r := range routes {
		g.Nodes = append(g.Nodes, status.GraphNode{ID: mesh.FormatID(r.Host), Relay: relays[r.Host], Reachable: true, Hops: r.Hops, Services: offers[r.Host]})
	}
	g.Links = links
	return g
}
