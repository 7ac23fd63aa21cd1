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

// maxServiceTries bounds the instances a dial by service name tries.
const maxServiceTries = 3

// dialService dials an instance of a service: the nearest first, at random
// among the equally near, trying the next when one refuses (it may have
// just closed its listener) or is no longer reachable.
func (c *core) dialService(ctx context.Context, env string, t target) (net.Conn, error) {
	var cands []Service
	c.reachableServices(env, func(s Service) {
		if s.Name == t.name && (!t.hasPort || s.Port == t.port) {
			cands = append(cands, s)
		}
	})
	if len(cands) == 0 {
		if t.hasPort {
			return nil, fmt.Errorf("%w: no reachable instance of %q on port %d%s", ErrNoService, t.name, t.port, envText(env))
		}
		return nil, fmt.Errorf("%w: no reachable instance of %q%s", ErrNoService, t.name, envText(env))
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	slices.SortStableFunc(cands, func(a, b Service) int { return a.Hops - b.Hops })
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
