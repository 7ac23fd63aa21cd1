package mesh

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Direct links: a relayed pair goes direct. A node may advertise, in its
// record, the addresses where it accepts links (WithAdvertise). When this
// node has a circuit, as its source or its destination (never as a relay),
// to a host that is not a neighbour, it dials a direct link to the host:
//
//   - if the host advertises addresses, and this node advertises none or
//     has the lower id (both could dial: one does), it dials them, one
//     after the other, as a one-off link that must prove the host's id
//     (the certificate's on a secured mesh; the hello's otherwise), and
//     that is not redialed once it ends;
//   - if the host advertises none and this node does, it asks the host,
//     on the circuit's inner session, to dial back (wire.KindDialBack):
//     the host dials the addresses that this node's own record advertises,
//     never an address the request names (it names none).
//
// It is tried when a circuit comes up, when a record with addresses
// arrives from a host this node has a circuit with, and when a dial-back
// request arrives; not on a timer. Once the link is up, the two are
// neighbours: new connections take the link (sessionTo prefers a link to a
// circuit), and the circuit, unused, is closed by the idle rule. Streams
// already open on the circuit stay on it until they end.
//
// An advertised address is whatever an insider put in its record, so the
// dials are bounded: this node dials only for a pair it is part of, at
// most directPerAddr times per address per directWindow (a failed id
// check counts), with a backoff per host after its addresses all failed;
// both tables are bounded.
const (
	directPerAddr   = 3           // attempts per advertised address per directWindow
	directWindow    = time.Minute // the window of directPerAddr
	directMaxAddrs  = 1024        // addresses the attempt table tracks; past it, dials to new ones wait
	directMaxHosts  = 1024        // hosts the backoff table tracks; past it, new hosts wait
	directFirstWait = 5 * time.Second
	directMaxWait   = 5 * time.Minute
)

// directTable is the state of the direct upgrade: the attempts made per
// address, and per host whether a dial is under way and how long to back
// off.
type directTable struct {
	mu       sync.Mutex
	attempts map[string][]time.Time // per address, the attempts within directWindow
	hosts    map[uint64]*directHost
}

// directHost is the direct upgrade's state for one far host.
type directHost struct {
	dialing   bool          // a dial (or its link) is under way
	notBefore time.Time     // no dial before, after failures
	wait      time.Duration // the backoff's last period
	asked     time.Time     // when we last asked the host to dial back
}

// allowLocked counts an attempt to addr at now unless addr had
// directPerAddr attempts within directWindow, or the table is full.
func (t *directTable) allowLocked(addr string, now time.Time) bool {
	if t.attempts == nil {
		t.attempts = make(map[string][]time.Time)
	}
	recent := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) >= directWindow {
			i++
		}
		return ts[i:]
	}
	ts, ok := t.attempts[addr]
	if !ok && len(t.attempts) >= directMaxAddrs {
		for a, ts := range t.attempts {
			if len(recent(ts)) == 0 {
				delete(t.attempts, a)
			}
		}
		if len(t.attempts) >= directMaxAddrs {
			return false
		}
	}
	ts = recent(ts)
	if len(ts) >= directPerAddr {
		t.attempts[addr] = ts
		return false
	}
	t.attempts[addr] = append(ts[:len(ts):len(ts)], now)
	return true
}

// hostLocked returns the state of host, making it if the table has room.
func (t *directTable) hostLocked(host uint64, now time.Time) *directHost {
	if t.hosts == nil {
		t.hosts = make(map[uint64]*directHost)
	}
	h := t.hosts[host]
	if h == nil {
		if len(t.hosts) >= directMaxHosts {
			for id, x := range t.hosts {
				if !x.dialing && now.After(x.notBefore) && now.Sub(x.asked) >= directFirstWait {
					delete(t.hosts, id)
				}
			}
			if len(t.hosts) >= directMaxHosts {
				return nil
			}
		}
		h = &directHost{}
		t.hosts[host] = h
	}
	return h
}

// circuitEnd returns the live circuit this node has with host, as either
// end, or nil.
func (c *core) circuitEnd(host uint64) *circuit {
	c.circuits.mu.Lock()
	defer c.circuits.mu.Unlock()
	if ci := c.circuits.byHost[host]; ci != nil && ci.sess.Err() == nil {
		return ci
	}
	return nil
}

// advertisedBy returns the addresses that the record held of host
// advertises.
func (c *core) advertisedBy(host uint64) []string {
	c.rt.mu.Lock()
	raw := c.rt.r.Held(host)
	c.rt.mu.Unlock()
	if raw == nil {
		return nil
	}
	rec, err := linkstate.DecodeRecord(raw, c.lim.MaxServices)
	if err != nil {
		return nil
	}
	return rec.Advertise
}

// considerDirect upgrades the pair of this node and host to a direct link
// if it can (see the comment at the top): it dials, or asks host to dial
// back, in the background. asked: host asked for it (a dial-back request
// on our circuit). It never blocks.
func (c *core) considerDirect(host uint64, asked bool) {
	if !c.opts.direct || host == c.id || c.links.has(host) {
		return
	}
	ci := c.circuitEnd(host) // only for a pair this node is part of
	if ci == nil {
		return
	}
	far := c.advertisedBy(host)
	ours := len(c.opts.advertise) > 0
	dial := len(far) > 0 && (asked || !ours || c.id < host)
	ask := !dial && len(far) == 0 && ours
	if !dial && !ask {
		return
	}
	now := time.Now()
	t := &c.direct
	t.mu.Lock()
	h := t.hostLocked(host, now)
	switch {
	case h == nil:
		t.mu.Unlock()
		return
	case dial && (h.dialing || now.Before(h.notBefore)):
		t.mu.Unlock()
		return
	case ask && now.Sub(h.asked) < directFirstWait:
		t.mu.Unlock()
		return
	case dial:
		h.dialing = true
	default:
		h.asked = now
	}
	t.mu.Unlock()
	if dial {
		if !c.spawn(func() { c.dialDirect(host, far) }) {
			t.mu.Lock()
			h.dialing = false
			t.mu.Unlock()
		}
		return
	}
	c.spawn(func() { c.askDialBack(ci) })
}

// dialDirect dials the addresses host advertises, one after the other,
// until a direct link to host comes up; it runs that link until it ends.
// It is not redialed: when the dials all fail, the host's next attempt
// backs off.
func (c *core) dialDirect(host uint64, addrs []string) {
	up := false
	defer func() {
		t := &c.direct
		t.mu.Lock()
		defer t.mu.Unlock()
		h := t.hosts[host]
		if h == nil {
			return
		}
		h.dialing = false
		if up {
			h.wait = 0
			h.notBefore = time.Now().Add(directFirstWait)
			return
		}
		h.wait = min(max(2*h.wait, directFirstWait), directMaxWait)
		h.notBefore = time.Now().Add(jitter(h.wait))
	}()
	d := net.Dialer{Timeout: c.lim.HandshakeTimeout}
	for _, addr := range addrs {
		if c.links.has(host) || c.isClosed() {
			up = true // neighbours already: nothing failed
			return
		}
		c.direct.mu.Lock()
		ok := c.direct.allowLocked(addr, time.Now())
		c.direct.mu.Unlock()
		if !ok {
			c.logf(slog.LevelDebug, "mesh: direct link: address dialed too often, skipped", "host", c.who(host), "addr", addr)
			continue
		}
		c.stats.directDials.Add(1)
		start := time.Now()
		conn, err := d.DialContext(c.ctx, "tcp", addr)
		if err == nil {
			err = c.runLinkWith(conn, linkStart{dialer: true, expect: host, direct: true, up: func(uint64) {
				up = true
				c.stats.directLinks.Add(1)
				c.logf(slog.LevelInfo, "mesh: direct link up", "host", c.who(host), "addr", addr, "took", time.Since(start))
			}})
		}
		if up || c.isClosed() {
			return // the link came up and ended: a one-off, not redialed
		}
		if errors.Is(err, ErrIDMismatch) {
			c.stats.directRefused.Add(1)
			c.logf(slog.LevelWarn, "mesh: direct link refused: the node at the advertised address is not the host", "host", c.who(host), "addr", addr, "err", err)
			continue
		}
		c.logf(slog.LevelInfo, "mesh: direct link failed", "host", c.who(host), "addr", addr, "err", err)
	}
}

// askDialBack asks the far end of ci to dial a direct link back to this
// node: a dial-back request on the circuit's inner session.
func (c *core) askDialBack(ci *circuit) {
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.HandshakeTimeout)
	defer cancel()
	st, err := ci.sess.OpenStream(ctx)
	if err != nil {
		return
	}
	err = withContext(ctx, st, func() error {
		_, err := st.Write(wire.AppendDialBack(nil))
		return err
	})
	if err != nil {
		st.Reset(mux.CodeCancel)
		return
	}
	st.Close()
	c.logf(slog.LevelDebug, "mesh: asked for a direct link back", "host", c.who(ci.host))
}

// dialBackRequested handles a dial-back request that host sent on the
// inner session of our circuit with it: host is the far end of one of our
// own circuits (the session proves it), and it is dialed at the addresses
// of its own record only.
func (c *core) dialBackRequested(st *mux.Stream, host uint64) {
	st.Close()
	c.stats.dialBacks.Add(1)
	c.considerDirect(host, true)
}

// CheckAdvertise reports whether addr may be advertised (WithAdvertise):
// HOST:PORT of at most 64 bytes, HOST a DNS name, an IPv4 address or an
// IPv6 address in brackets, PORT from 1 to 65535. The error wraps
// ErrBadAddress.
func CheckAdvertise(addr string) error { return base.CheckAdvertise(addr) }
