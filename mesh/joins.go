package mesh

import (
	"errors"
	"log/slog"
	"time"
)

// joinSet is what a node keeps of its joins and listeners; the node's mu
// guards it.
type joinSet struct {
	serving []served     // listeners accepting links
	addrs   []string     // Join's addresses, in the order they were added
	err     error        // why Join's last try failed, nil once a link is up (JoinError)
	states  []*joinState // Join's states (Joins)

	watching     bool          // watchAlone runs
	linksChanged chan struct{} // a link came up or went down (watchAlone)
	// aloneAfter is how long the node may be without a live link before
	// it says so (aloneAfter when 0); tests set it before Join or Serve.
	aloneAfter time.Duration
}

// JoinState is the state of one address a node keeps a link to (Join).
type JoinState uint8

// The states of a Join.
const (
	// JoinConnecting: the first dial, or its link handshake, is under
	// way; no attempt has ended yet.
	JoinConnecting JoinState = iota + 1
	// JoinUp: a link of the join is up (JoinInfo.Peer is its peer).
	JoinUp
	// JoinRedialing: the last attempt failed, or the link went down, for
	// a reason that may pass (nobody listens there, a timeout, a link
	// that ended); the node dials again at JoinInfo.NextTry.
	JoinRedialing
	// JoinRefused: the two nodes cannot link as they are set up, and will
	// not until one of them changes: the far node refused this one, or
	// this one the far node (another CA, another mesh name, another
	// protocol version, an id that does not match, a revoked node, a
	// limit of the far node), or the far node hangs up on every try
	// before the link handshake is done (one end secured with TLS and the
	// other not, or not a mesh node). JoinInfo.LastError says why. The
	// node goes on dialing, with backoff, in case the far end changes.
	JoinRefused
)

// String returns "connecting", "up", "redialing" or "refused".
func (s JoinState) String() string {
	switch s {
	case JoinConnecting:
		return "connecting"
	case JoinUp:
		return "up"
	case JoinRedialing:
		return "redialing"
	case JoinRefused:
		return "refused"
	}
	return "unknown"
}

// JoinInfo describes one address a node keeps a link to (Join).
type JoinInfo struct {
	// Addr is the address as "network://address", as NodeInfo.Join
	// prints it.
	Addr  string
	State JoinState
	// Peer is the node at the other end while State is JoinUp; 0
	// otherwise.
	Peer uint64
	// Since is when State began: when Join was called, the link came up,
	// or the first failure of a run of them.
	Since time.Time
	// LastError is why the last attempt failed (the dial's error, the
	// link handshake's, or the error that ended a link that was up), and
	// LastErrorTime when; nil and zero before any failure. They stay set
	// while the link is up: the failure before it.
	LastError     error
	LastErrorTime time.Time
	// NextTry is when the next dial is due (JoinRedialing, JoinRefused);
	// zero otherwise. It is in the past while that dial is under way.
	NextTry time.Time
}

// joinState is the state of one Join, guarded by core.mu.
type joinState struct {
	info JoinInfo
}

// Joins describes the addresses the node keeps a link to (Join), in the
// order they were added, with the state of each.
func (n *Node) Joins() []JoinInfo {
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]JoinInfo, len(c.join.states))
	for i, js := range c.join.states {
		out[i] = js.info
	}
	return out
}

// joinUp records that a link of js came up, to peer.
func (c *core) joinUp(js *joinState, peer uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	js.info.State, js.info.Peer, js.info.Since, js.info.NextTry = JoinUp, peer, time.Now(), time.Time{}
}

// joinFailed records that an attempt of js failed with err, and that the
// next is due after wait: refused says whether it was a refusal.
func (c *core) joinFailed(js *joinState, err error, refused bool, wait time.Duration) {
	now := time.Now()
	st := JoinRedialing
	if refused {
		st = JoinRefused
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if js.info.State != st {
		js.info.State, js.info.Since = st, now
	}
	js.info.Peer = 0
	js.info.LastError, js.info.LastErrorTime = err, now
	js.info.NextTry = now.Add(wait)
}

// joinRefused reports whether err, why an attempt of Join failed, is a
// refusal (see JoinRefused): a rule of the link handshake, or of TLS,
// refused on either side, or the far node hung up before the handshake
// was done more than joinFastTries times in a row (hangUps).
func joinRefused(err error, hangUps int) bool {
	if hungUp(err) {
		return hangUps > joinFastTries
	}
	var r *refusal
	if errors.As(err, &r) && r.op == "link" {
		return !errors.Is(r.err, ErrClosed)
	}
	return errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrMeshMismatch) ||
		errors.Is(err, ErrVersion) || errors.Is(err, ErrIDMismatch)
}

// maxWarned bounds the refusals a join remembers having logged at WARN.
const maxWarned = 16

// aloneAfter is how long a node that joins or serves may be without a
// live link before it says so at WARN (joinSet.aloneAfter; tests shorten
// it).
const aloneAfter = 10 * time.Second

// watchLinks starts, once, the watch that warns when the node, which
// joins or serves, has no live link for c.join.aloneAfter.
func (c *core) watchLinks() {
	c.mu.Lock()
	started := c.join.watching
	c.join.watching = true
	c.mu.Unlock()
	if !started {
		c.spawn(c.watchAlone)
	}
}

// linksKick tells watchAlone that a link came up or went down.
func (c *core) linksKick() {
	select {
	case c.join.linksChanged <- struct{}{}:
	default:
	}
}

// watchAlone logs at WARN when the node has had no live link for
// c.join.aloneAfter: once after it starts watching, and once each time it
// loses its last link and stays without one that long; and at INFO when
// a link comes back after such a warning.
func (c *core) watchAlone() {
	d := c.join.aloneAfter
	if d <= 0 {
		d = aloneAfter
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	armed, warned := true, false
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.join.linksChanged:
			switch live := c.links.live(); {
			case live > 0:
				if armed {
					timer.Stop()
					armed = false
				}
				if warned {
					c.logf(slog.LevelInfo, "mesh: a link is up again", "links", live)
					warned = false
				}
			case !armed && !warned:
				timer.Reset(d)
				armed = true
			}
		case <-timer.C:
			armed = false
			if c.links.live() > 0 || warned {
				continue
			}
			warned = true
			args := []any{"for", d}
			c.mu.Lock()
			joins, serving, jerr := len(c.join.states), len(c.join.serving), c.join.err
			c.mu.Unlock()
			args = append(args, "joins", joins, "listeners", serving)
			if jerr != nil {
				args = append(args, "err", jerr)
			}
			c.logf(slog.LevelWarn, "mesh: no live link: the node is cut off from the mesh", args...)
		}
	}
}

// live returns the number of registered links.
func (t *linkTable) live() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := 0
	for _, ls := range t.byPeer {
		k += len(ls)
	}
	return k
}

// notAfter returns when the credentials' certificate expires: the
// earliest NotAfter of its chain.
func (cr *creds) notAfter() time.Time {
	if cr.own != nil {
		return cr.own.notAfter
	}
	return cr.leaf.NotAfter
}
