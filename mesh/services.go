package mesh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"

	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
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
	if base.CheckEnv(n.env) != nil {
		return nil
	}
	var out []Service
	n.c.reachableServices(n.env, func(s Service) { out = append(out, s) })
	slices.SortFunc(out, func(a, b Service) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Hops, b.Hops); c != 0 {
			return c
		}
		return cmp.Compare(a.Host, b.Host)
	})
	return out
}

// reachableServices calls f for every reachable service of env: ours from
// the listener table, the others' from their records.
func (c *core) reachableServices(env string, f func(Service)) {
	for _, s := range c.ports.services() {
		if s.Env == env {
			f(Service{Name: s.Name, Host: c.id, Port: s.Port})
		}
	}
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	c.rt.r.Reachable(func(id uint64, services []linkstate.Service, hops int) {
		for _, s := range services {
			if s.Env == env {
				f(Service{Name: s.Name, Host: id, Port: s.Port, Hops: hops})
			}
		}
	})
}

// instances appends to out the reachable instances of a service of env
// (on port, when hasPort), ours first, then nearest first and at random
// among the equally near, and returns it. The others' come from the
// router's service index, kept up to date as records come and go.
func (c *core) instances(out []Service, env, name string, port uint32, hasPort bool) []Service {
	out = out[:0]
	if p, ok := c.ports.service(env, name); ok && (!hasPort || p == port) {
		out = append(out, Service{Name: name, Host: c.id, Port: p})
	}
	first := len(out)
	c.rt.mu.Lock()
	c.rt.r.ServiceInstances(env, name, func(host uint64, p uint32, hops int) {
		if !hasPort || p == port {
			out = append(out, Service{Name: name, Host: host, Port: p, Hops: hops})
		}
	})
	c.rt.mu.Unlock()
	remote := out[first:]
	slices.SortFunc(remote, func(a, b Service) int { return a.Hops - b.Hops })
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
// among the equally near, trying the next (maxServiceTries in all) when
// one fails: it refuses (it may have just closed its listener, or its
// backlog stayed full for HandshakeTimeout), a limit of it or of a relay
// refuses, it is no longer reachable, or it
// could not be authenticated. Only the end of ctx, and the closing of this
// node, stop the tries early. (A dial that does not wait for its verdict,
// see dial.go, learns of a refusal only on its first Read or Write, and
// then tries no other instance.)
func (c *core) dialService(ctx context.Context, env string, t target) (net.Conn, error) {
	var buf [4]Service // most services have few instances: no allocation
	cands := c.instances(buf[:0], env, t.name, t.port, t.hasPort)
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
		conn, err := c.dialHost(ctx, s.Host, wire.ConnHeader{Port: s.Port, Env: env, Name: t.name}, Addr{Host: s.Host, Port: s.Port})
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil || errors.Is(err, ErrClosed) && c.isClosed() {
			return nil, err
		}
	}
	return nil, first
}
