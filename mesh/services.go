package mesh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
)

// Service is one instance of a service name: the host that offers it, the
// port it listens on, and how many hops away the host is (0: this node).
type Service struct {
	Name string
	Host uint64
	Port uint32
	Hops int
}

// Services lists the services of the node's env that it can reach, its
// own included, sorted by name, then hops, then host.
func (n *Node) Services() []Service {
	if checkEnv(n.env) != nil {
		return nil
	}
	var out []Service
	n.c.reachableServices(n.env, func(s Service) { out = append(out, s) })
	slices.SortFunc(out, func(a, b Service) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if a.Hops != b.Hops {
			return a.Hops - b.Hops
		}
		switch {
		case a.Host < b.Host:
			return -1
		case a.Host > b.Host:
			return 1
		}
		return 0
	})
	return out
}

// reachableServices calls f for every reachable service of env: ours from
// the listener table, the others' from their records.
func (c *core) reachableServices(env string, f func(Service)) {
	for _, s := range c.ports.services() {
		if s.env == env {
			f(Service{Name: s.name, Host: c.id, Port: s.port})
		}
	}
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	c.rt.r.reachable(c.lim.MaxServices, func(rec *record, hops int) {
		if rec.id == c.id {
			return
		}
		for _, s := range rec.services {
			if s.env == env {
				f(Service{Name: s.name, Host: rec.id, Port: s.port, Hops: hops})
			}
		}
	})
}

// serviceIndex holds the services of the reachable nodes' records by env
// and name, nearest first; dials by name look it up rather than decode
// every record. It is rebuilt when a dial finds the routing table changed.
type serviceIndex struct {
	gen    uint64
	built  bool
	byName map[nameKey][]Service
}

// instances returns the reachable instances of a service of env (on port,
// when hasPort), ours first, then nearest first and at random among the
// equally near.
func (c *core) instances(env, name string, port uint32, hasPort bool) []Service {
	var out []Service
	if p, ok := c.ports.service(env, name); ok && (!hasPort || p == port) {
		out = append(out, Service{Name: name, Host: c.id, Port: p})
	}
	rt := &c.rt
	rt.mu.Lock()
	if gen := rt.r.reachableGen(); !rt.index.built || rt.index.gen != gen {
		idx := serviceIndex{gen: gen, built: true, byName: make(map[nameKey][]Service)}
		rt.r.reachable(c.lim.MaxServices, func(rec *record, hops int) {
			if rec.id == c.id {
				return
			}
			for _, s := range rec.services {
				k := nameKey{s.env, s.name}
				idx.byName[k] = append(idx.byName[k], Service{Name: s.name, Host: rec.id, Port: s.port, Hops: hops})
			}
		})
		for _, ss := range idx.byName {
			slices.SortFunc(ss, func(a, b Service) int { return a.Hops - b.Hops })
		}
		rt.index = idx
	}
	remote := rt.index.byName[nameKey{env, name}] // never modified: a rebuild makes new slices
	rt.mu.Unlock()
	first := len(out)
	for _, s := range remote {
		if !hasPort || s.Port == port {
			out = append(out, s)
		}
	}
	// At random among the equally near: shuffle each run of equal hops.
	for i := first; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].Hops == out[i].Hops {
			j++
		}
		run := out[i:j]
		rand.Shuffle(len(run), func(a, b int) { run[a], run[b] = run[b], run[a] })
		i = j
	}
	return out
}

// maxServiceTries bounds the instances a dial by service name tries.
const maxServiceTries = 3

// dialService dials an instance of a service: the nearest first, at random
// among the equally near, trying the next when one refuses (it may have
// just closed its listener) or is no longer reachable. (A dial that does
// not wait for its verdict, see dial.go, learns of a refusal only on its
// first Read or Write, and then tries no other instance.)
func (c *core) dialService(ctx context.Context, env string, t target) (net.Conn, error) {
	cands := c.instances(env, t.name, t.port, t.hasPort)
	if len(cands) == 0 {
		if t.hasPort {
			return nil, fmt.Errorf("%w: no reachable instance of %q on port %d%s", ErrNoService, t.name, t.port, envText(env))
		}
		return nil, fmt.Errorf("%w: no reachable instance of %q%s", ErrNoService, t.name, envText(env))
	}
	var first error
	for i, s := range cands {
		if i == maxServiceTries {
			break
		}
		conn, err := c.dialHost(ctx, s.Host, connHeader{port: s.Port, env: env, name: t.name}, Addr{Host: s.Host, Port: s.Port})
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil || !(errors.Is(err, ErrNoService) || errors.Is(err, ErrNoRoute) || errors.Is(err, ErrConnRefused)) {
			return nil, err
		}
	}
	return nil, first
}
