package mesh

import (
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/plexusnet/plexus/internal/timerref"
	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
)

// The routing driver: it runs the pure router of package linkstate for a
// node, under a mutex, feeds it link changes, service changes and the
// records the links read, and hands the records it emits to the links'
// senders.

// routing is the router of a node and the timer that wakes it.
type routing struct {
	mu     sync.Mutex
	r      *linkstate.Router
	timer  *time.Timer
	node   *timerref.Ref[core] // the node as the timer reaches it; stopRouting clears it
	closed bool
}

func (c *core) startRouting() {
	var encode func(*linkstate.Record) ([]byte, error)
	if c.ident != nil {
		encode = func(rec *linkstate.Record) ([]byte, error) {
			cr := c.ident.creds() // ReloadTLS may replace them
			rec.Cert = cr.chain
			rec.Advertise = c.opts.advertise
			rec.Resume = c.opts.resume
			return linkstate.EncodeRecord(rec, cr.sign)
		}
	} else {
		encode = func(rec *linkstate.Record) ([]byte, error) {
			rec.Name = c.opts.nodeName
			rec.Advertise = c.opts.advertise
			rec.Resume = c.opts.resume
			return linkstate.EncodeRecord(rec, nil)
		}
	}
	now := time.Now()
	c.rt.r = linkstate.NewRouter(linkstate.Config{
		Self:       c.id,
		Relay:      c.opts.relay,
		HoldDown:   c.opts.holdDown,
		Lifetime:   c.opts.lifetime,
		MaxRecords: c.lim.MaxRecords,
		MaxBytes:   c.lim.MaxRecordBytes,
		Encode:     encode,
	}, now)
	// The timer reaches the node through a Ref that stopRouting clears: the
	// runtime keeps a stopped timer, callback and all, until its original
	// time, which must not keep a closed node alive.
	c.rt.node = timerref.New(c)
	c.rt.timer = timerref.AfterFunc(time.Hour, c.rt.node, func(c *core) {
		// Close waits for a tick that began before it, and a tick that
		// begins after does nothing: none outlives Close.
		if !c.hold() {
			return
		}
		defer c.wg.Done()
		c.routeDo(func(r *linkstate.Router, now time.Time) []linkstate.OutMsg { return r.Tick(now) })
	})
	c.routeDo(func(r *linkstate.Router, now time.Time) []linkstate.OutMsg { return r.Tick(now) })
}

func (c *core) stopRouting() {
	c.rt.mu.Lock()
	c.rt.closed = true
	c.rt.timer.Stop()
	c.rt.node.Clear()
	c.rt.mu.Unlock()
}

// routeDo runs f on the router, hands what it emits to the links (in
// order, under the router's lock, so that a newer record of an id never
// overtakes an older one), and re-arms the timer.
func (c *core) routeDo(f func(r *linkstate.Router, now time.Time) []linkstate.OutMsg) {
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	if c.rt.closed {
		return
	}
	out := f(c.rt.r, time.Now())
	c.dispatch(out)
	c.rt.timer.Reset(max(time.Until(c.rt.r.NextWake()), time.Millisecond))
}

// dispatch queues records on the links they go to.
func (c *core) dispatch(out []linkstate.OutMsg) {
	if len(out) == 0 {
		return
	}
	c.links.each(func(l *link) {
		for _, m := range out {
			if m.To == l.peer || m.To == 0 && m.Except != l.peer {
				l.out.put(m.ID, m.Raw)
			}
		}
	})
}

// receiveRecord takes a record a link read: it is decoded, checked
// (signature and certificate when secured) and given to the router. The
// check is skipped when a newer record of the id is held, as for most of
// a flood's late copies; the router then takes the record as unverified,
// and refuses it unless a newer record is still held at that moment,
// under its own lock, in which case the record is checked after all.
func (c *core) receiveRecord(l *link, raw []byte) error {
	c.rt.mu.Lock()
	copy := c.rt.r.IsCopy(raw)
	c.rt.mu.Unlock()
	if copy {
		return nil // the common case of flooding: nothing to decode or verify
	}
	rec, err := linkstate.DecodeRecord(raw, c.lim.MaxServices)
	if err != nil {
		return err
	}
	if rec.ID != c.id && c.revoke.has(rec.ID) {
		return &base.RevokedError{ID: rec.ID} // before any signature check
	}
	now := time.Now()
	verified := c.ident == nil
	var grants *Grants         // once verified: what the record's certificate grants
	var leaf *x509.Certificate // and the certificate; both nil on an unsecured mesh
	if !verified {
		c.rt.mu.Lock()
		held, ok := c.rt.r.HeldSeq(rec.ID)
		c.rt.mu.Unlock()
		switch {
		case ok && held == rec.Seq && rec.ID != c.id:
			return nil // a copy of what we hold: no need to verify it
		case ok && held > rec.Seq:
			// Older: the router refuses it without storing it, and sends
			// the newer one back.
		default:
			if grants, leaf, err = c.ident.verifyRecord(rec, raw, now); err != nil {
				return err
			}
			verified = true
		}
	}
	for {
		if verified {
			c.servicePolicy(rec, grants, leaf)
		}
		var rerr error
		c.routeDo(func(r *linkstate.Router, now time.Time) []linkstate.OutMsg {
			var out []linkstate.OutMsg
			if verified {
				out, rerr = r.Receive(rec, raw, l.peer, now)
			} else {
				out, rerr = r.ReceiveUnverified(rec, raw, l.peer, now)
			}
			return out
		})
		if verified || !errors.Is(rerr, linkstate.ErrUnverified) {
			if rerr == nil && len(rec.Advertise) > 0 && rec.ID != c.id {
				c.considerDirect(rec.ID, false) // a host we may have a circuit with now advertises
			}
			return rerr
		}
		if grants, leaf, err = c.ident.verifyRecord(rec, raw, now); err != nil {
			return err
		}
		verified = true
	}
}

// servicePolicy drops from rec, a verified record of another node, the
// services that its certificate, leaf, does not name (WithCertPolicy: it
// grants grants) and those that WithServicePolicy refuses: this node
// ignores them (the record is flooded as it came). Each is counted, and
// logged at Debug only: an insider's records may carry hundreds of
// services, many times a second.
func (c *core) servicePolicy(rec *linkstate.Record, grants *Grants, leaf *x509.Certificate) {
	allow := c.opts.servicePolicy
	if len(rec.Services) == 0 || rec.ID == c.id || !c.opts.certPolicy && allow == nil {
		return
	}
	kept := rec.Services[:0:0]
	for _, s := range rec.Services {
		why := ""
		switch {
		case c.opts.certPolicy && (grants == nil || !grants.MayServe(s.Env, s.Name)):
			why = "the node's certificate does not name it (certificate policy)"
		case allow != nil && !allow(rec.ID, leaf, s.Env, s.Name): // leaf: nil on an unsecured mesh
			why = "refused by the service policy"
		}
		if why == "" {
			kept = append(kept, s)
			continue
		}
		c.stats.servicesIgnored.Add(1)
		c.logf(slog.LevelDebug, "mesh: service ignored: "+why, "host", FormatID(rec.ID), "env", s.Env, "service", s.Name)
	}
	if len(kept) == 0 {
		kept = nil
	}
	rec.Services = kept
}

// readRecords reads the control stream of a link after the handshake:
// records, at most RecordRate a second once a burst of MaxRecords is
// spent (a faster peer is read more slowly, which its sender's coalescing
// queue absorbs), and revocation lists, at most listRate a second after a
// burst of listBurst of those that might be newer than the one held. It
// ends with the link; a broken message ends the link.
func (l *link) readRecords() {
	c := l.c
	b := newBucket(c.lim.RecordRate, c.lim.MaxRecords, time.Now())
	// Revocation lists that may cost a check (newer than the one held)
	// have a bucket of their own: a list is rare, and a refused one may
	// cost a certificate's parse and a signature check.
	lb := newBucket(listRate, listBurst, time.Now())
	maxOf := func(typ uint8) int {
		if typ == wire.MsgRevocation {
			return maxRevocationLen
		}
		return c.lim.MaxRecordSize
	}
	for {
		typ, body, err := wire.ReadCtrlFor(l.rd, maxOf)
		var big *wire.Oversize
		if errors.As(err, &big) && big.Type == wire.MsgRecord {
			// Skip it and read on: one bad record costs the link nothing else.
			c.stats.recReceived.Add(1)
			c.stats.recRefused.Add(1)
			c.logf(slog.LevelWarn, "mesh: record refused", "from", c.who(l.peer), "err", err)
			if _, err := io.CopyN(io.Discard, l.rd, int64(big.N)); err != nil {
				l.sess.Close()
				return
			}
			continue
		}
		if err != nil {
			if l.sess.Err() == nil {
				c.logf(slog.LevelWarn, "mesh: link control stream failed", "peer", c.who(l.peer), "err", err)
				l.sess.Close()
			}
			return
		}
		switch typ {
		case wire.MsgRecord:
			c.stats.recReceived.Add(1)
			if !l.pace(b) {
				return
			}
			var revoked *base.RevokedError
			switch err := c.receiveRecord(l, body); {
			case errors.Is(err, ErrStaleRecord):
				c.stats.recStale.Add(1)
			case errors.As(err, &revoked):
				c.stats.recRefused.Add(1)
				c.logf(slog.LevelDebug, "mesh: record refused", "from", c.who(l.peer), "err", err)
			case err != nil:
				c.stats.recRefused.Add(1)
				c.logf(slog.LevelWarn, "mesh: record refused", "from", c.who(l.peer), "err", err)
			}
		case wire.MsgRevocation:
			if c.revoke.newer(body) && !l.pace(lb) {
				return
			}
			c.receiveRevocation(l, body)
		case wire.MsgRefuse:
			c.logf(slog.LevelWarn, "mesh: link closed by the peer", "peer", c.who(l.peer), "err", peerRefusal(l.peer, body))
			l.sess.Close()
			return
		default:
			c.logf(slog.LevelWarn, "mesh: unknown control message", "peer", c.who(l.peer), "type", typ)
			l.sess.Close()
			return
		}
	}
}

// pace waits, when the link's records and revocation lists come faster
// than the bucket b allows, until they may be read on; it reports false
// if the link ended meanwhile.
func (l *link) pace(b *bucket) bool {
	d := b.take(time.Now())
	if d <= 0 {
		return true
	}
	l.c.logf(slog.LevelDebug, "mesh: record rate limit: slowing down a link", "peer", l.c.who(l.peer), "wait", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.sess.Done():
		return false
	}
}

// recordQueue holds the records a link has to send: at most one per node
// id (the newest), so it never holds more than the routing table, however
// slowly the peer reads; and at most one revocation list, the newest,
// sent before them (putList, revoke.go).
type recordQueue struct {
	mu      sync.Mutex
	pending map[uint64][]byte
	order   []uint64 // ids in pending, in the order they were first queued
	list    []byte   // an encoded revocation list to send first, or nil
	lists   bool     // the peer takes revocation lists (wire.HelloLists)
	kick    chan struct{}
	closed  bool
}

// takesLists sets whether the peer takes revocation lists: putList is a
// no-op unless it does.
func (q *recordQueue) takesLists(ok bool) {
	q.mu.Lock()
	q.lists = ok
	q.mu.Unlock()
}

func (q *recordQueue) init() {
	q.pending = make(map[uint64][]byte)
	q.kick = make(chan struct{}, 1)
}

// put queues raw, the record of id, unless a newer one of id is queued.
func (q *recordQueue) put(id uint64, raw []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if old, ok := q.pending[id]; ok {
		if binary.BigEndian.Uint64(old[linkstate.OffSeq:]) < binary.BigEndian.Uint64(raw[linkstate.OffSeq:]) {
			q.pending[id] = raw
		}
		return
	}
	q.pending[id] = raw
	q.order = append(q.order, id)
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// take returns the queued revocation list and records framed as control
// messages, up to about limit bytes, and the number of records.
func (q *recordQueue) take(buf []byte, limit int) ([]byte, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.list != nil {
		buf = wire.AppendCtrl(buf, wire.MsgRevocation, q.list)
		q.list = nil
	}
	i := 0
	for ; i < len(q.order) && len(buf) < limit; i++ {
		id := q.order[i]
		buf = wire.AppendCtrl(buf, wire.MsgRecord, q.pending[id])
		delete(q.pending, id)
	}
	q.order = q.order[:copy(q.order, q.order[i:])]
	if len(q.order) > 0 {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
	return buf, i
}

func (q *recordQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.pending, q.order, q.list = nil, nil, nil
	q.mu.Unlock()
}

// sendRecords writes the queued records on the control stream until the
// link ends; the revocation list held, if any, goes first.
func (l *link) sendRecords() {
	if held := l.c.revoke.cur.Load(); held != nil && l.c.ident != nil {
		l.out.putList(held.raw)
	}
	var buf []byte
	for {
		select {
		case <-l.out.kick:
		case <-l.sess.Done():
			return
		}
		var n int
		buf, n = l.out.take(buf[:0], 64<<10)
		if len(buf) == 0 {
			continue
		}
		if _, err := l.ctrl.Write(buf); err != nil {
			return
		}
		l.c.stats.recSent.Add(uint64(n))
		if cap(buf) > 256<<10 {
			buf = nil
		}
	}
}
