package linkstate

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// The routing state machine: the link-state database and shortest paths.
// It is pure: its inputs are link changes, service changes, received
// records and the passing of time (every method takes now); its outputs
// are the records to send (OutMsg) and the route table. It starts no
// goroutine and does no I/O, so it is unit-tested directly and simulated
// at scale (routing_sim_test.go). It is not safe for concurrent use; the
// node serializes calls with a mutex.

// Config is what a router is given once.
type Config struct {
	Self       uint64
	Relay      bool
	HoldDown   time.Duration // at most one origination per HoldDown
	Lifetime   time.Duration // our records expire this long after origination
	MaxRecords int           // records held, ours excluded
	MaxBytes   int           // bytes of the records held, ours excluded; 0: no bound
	// Encode encodes our record (and signs it on a secured node).
	Encode func(*Record) ([]byte, error)
}

// OutMsg is a record to send: to one neighbour, or (To == 0) to every
// neighbour but Except.
type OutMsg struct {
	To     uint64
	Except uint64
	ID     uint64 // whose record
	Raw    []byte
}

// entry is a record held in the database. To keep a node's memory small on
// a large mesh it holds only the encoded record, whose fixed-offset fields
// are read in place, and the route to its node.
type entry struct {
	raw []byte
	// The route to the node, valid when epoch == router.epoch.
	epoch uint32
	hops  uint16
	next  uint64 // the neighbour through which the node is reached
	prev  uint64 // the node before it on the path
}

// Offsets of the fields of an encoded record (see record.go).
const (
	offFlags      = 1
	OffSeq        = 10
	offExpiry     = 18
	offNeighbours = 26
)

func (e *entry) seq() uint64   { return binary.BigEndian.Uint64(e.raw[OffSeq:]) }
func (e *entry) expiry() int64 { return int64(binary.BigEndian.Uint64(e.raw[offExpiry:])) }
func (e *entry) relays() bool  { return e.raw[offFlags]&recordFlagRelay != 0 }
func (e *entry) numNeigh() int { return int(binary.BigEndian.Uint16(e.raw[offNeighbours:])) }
func (e *entry) neigh(i int) uint64 {
	return binary.BigEndian.Uint64(e.raw[offNeighbours+2+8*i:])
}

// nameKey is a service name in an env.
type nameKey struct{ env, name string }

// lists reports whether e's node lists id as a neighbour (the list is
// sorted, so a binary search).
func (e *entry) lists(id uint64) bool {
	n := e.numNeigh()
	i := sort.Search(n, func(i int) bool { return e.neigh(i) >= id })
	return i < n && e.neigh(i) == id
}

// Router is the routing state of one node.
type Router struct {
	cfg      Config
	db       map[uint64]*entry
	bytes    int                             // of the records in db
	byName   map[nameKey]map[uint64]struct{} // the nodes whose record in db lists a service, by env and name
	svcOf    map[uint64][]Service            // the services of the records in db that list some, decoded once
	links    map[uint64]struct{}             // live neighbours
	services []Service                       // ours, sorted
	own      *Record                         // our last originated record; nil before the first
	ownRaw   []byte
	seq      uint64    // the sequence number of our last record
	dirty    bool      // our record must be re-originated
	lastOrig time.Time // when we last originated
	purgeAt  time.Time // next scan for expired records
	expireAt int64     // unix milliseconds at which the first record of db expires; 0: none known
	revoked  []uint64  // revoked ids, sorted: never in links nor in db (see Revoke)

	epoch   uint32 // routes computed for this epoch; bumped by every change
	valid   bool   // routes are computed for the current state
	queue   []uint64
	nRoutes int

	// Counters, for tests, the simulation and Stats.
	originated int
	changes    uint64 // calls of changed
}

// NewRouter returns the routing state of a node that starts at now. Its
// sequence numbers start at the wall clock in nanoseconds, so a restarted
// node outranks the records of its previous run. Its first record is made
// one hold-down after the start, so that it lists the links made at
// start-up rather than flooding an empty record first.
func NewRouter(cfg Config, now time.Time) *Router {
	return &Router{
		cfg:      cfg,
		db:       make(map[uint64]*entry),
		byName:   make(map[nameKey]map[uint64]struct{}),
		svcOf:    make(map[uint64][]Service),
		links:    make(map[uint64]struct{}),
		seq:      uint64(now.UnixNano()),
		dirty:    true,
		lastOrig: now,
		purgeAt:  now.Add(cfg.Lifetime / 8),
	}
}

// LinkUp records a live link to peer. The peer is sent our whole
// database, and our record is re-originated (at once, or after the
// hold-down).
func (r *Router) LinkUp(peer uint64, now time.Time) []OutMsg {
	if _, ok := r.links[peer]; ok || r.isRevoked(peer) {
		return nil
	}
	r.links[peer] = struct{}{}
	r.changed()
	r.dirty = true
	out := r.originate(now, nil)
	return r.dumpTo(peer, now, out)
}

// IsLink reports whether peer is a live neighbour.
func (r *Router) IsLink(peer uint64) bool {
	_, ok := r.links[peer]
	return ok
}

// Dump sends our whole database to peer, as to a new link.
func (r *Router) Dump(peer uint64, now time.Time) []OutMsg { return r.dumpTo(peer, now, nil) }

func (r *Router) dumpTo(peer uint64, now time.Time, out []OutMsg) []OutMsg {
	if r.ownRaw != nil {
		out = append(out, OutMsg{To: peer, ID: r.cfg.Self, Raw: r.ownRaw})
	}
	ms := now.UnixMilli()
	for id, e := range r.db {
		if e.expiry() > ms {
			out = append(out, OutMsg{To: peer, ID: id, Raw: e.raw})
		}
	}
	return out
}

// LinkDown records that the last link to peer ended.
func (r *Router) LinkDown(peer uint64, now time.Time) []OutMsg {
	if _, ok := r.links[peer]; !ok {
		return nil
	}
	delete(r.links, peer)
	r.changed()
	r.dirty = true
	return r.originate(now, nil)
}

// SetServices replaces the services of our record.
func (r *Router) SetServices(s []Service, now time.Time) []OutMsg {
	s = slices.Clone(s)
	slices.SortFunc(s, cmpService)
	if slices.Equal(s, r.services) {
		return nil
	}
	r.services = s
	r.dirty = true
	return r.originate(now, nil)
}

func cmpService(a, b Service) int {
	switch {
	case a.Env != b.Env:
		if a.Env < b.Env {
			return -1
		}
		return 1
	case a.Name != b.Name:
		if a.Name < b.Name {
			return -1
		}
		return 1
	}
	return int(int64(a.Port) - int64(b.Port))
}

// Receive takes a record that a neighbour sent, decoded from raw (and
// verified, on a secured node). A newer record replaces the one held and
// is flooded to every other neighbour; a copy of the held one is a no-op;
// an older one is refused with ErrStaleRecord and the newer one is sent
// back to that neighbour. A record of our own id that is newer than ours
// (from a previous run whose clock was ahead) makes us re-originate above
// it.
func (r *Router) Receive(rec *Record, raw []byte, from uint64, now time.Time) ([]OutMsg, error) {
	return r.receiveAs(rec, raw, from, now, true)
}

// ErrUnverified refuses a record whose signature was not checked, when the
// router would keep it: verify it, and give it again.
var ErrUnverified = fmt.Errorf("%w: record not verified", base.ErrNotAuthorized)

// ReceiveUnverified is Receive for a record whose signature and
// certificate were not checked, on a secured node, because a newer record
// of its id was held when it arrived: it is judged stale, or a copy, only
// if that still holds; otherwise (the held record was purged since, say)
// it is refused with ErrUnverified and never stored.
func (r *Router) ReceiveUnverified(rec *Record, raw []byte, from uint64, now time.Time) ([]OutMsg, error) {
	return r.receiveAs(rec, raw, from, now, false)
}

func (r *Router) receiveAs(rec *Record, raw []byte, from uint64, now time.Time, verified bool) ([]OutMsg, error) {
	if err := checkExpiry(rec, now, 2*r.cfg.Lifetime); err != nil {
		return nil, err
	}
	if r.isRevoked(rec.ID) {
		return nil, &base.RevokedError{ID: rec.ID}
	}
	if !verified {
		if held, ok := r.HeldSeq(rec.ID); !ok || held < rec.Seq || held == rec.Seq && rec.ID == r.cfg.Self {
			return nil, ErrUnverified
		}
	}
	if rec.ID == r.cfg.Self {
		if rec.Seq < r.seq || rec.Seq == r.seq && r.ownRaw != nil && string(raw) == string(r.ownRaw) {
			if rec.Seq < r.seq && r.ownRaw != nil {
				return []OutMsg{{To: from, ID: r.cfg.Self, Raw: r.ownRaw}}, fmt.Errorf("%w: our own record %d, ours is %d", base.ErrStaleRecord, rec.Seq, r.seq)
			}
			return nil, nil
		}
		r.seq = rec.Seq // the next origination goes above it
		r.dirty = true
		return r.originate(now, nil), nil
	}
	old := r.db[rec.ID]
	if old != nil {
		switch s := old.seq(); {
		case rec.Seq < s:
			return []OutMsg{{To: from, ID: rec.ID, Raw: old.raw}}, fmt.Errorf("%w: %s/%d, we hold %d", base.ErrStaleRecord, base.FormatID(rec.ID), rec.Seq, s)
		case rec.Seq == s:
			return nil, nil
		}
	}
	grow := len(raw)
	if old != nil {
		grow -= len(old.raw)
	}
	if !r.fits(old == nil, grow) && !r.makeRoom(now, rec.ID, old == nil, grow) {
		if old == nil && len(r.db) >= r.cfg.MaxRecords {
			return nil, fmt.Errorf("%w: record of %s refused", &base.LimitError{Limit: "MaxRecords", Max: r.cfg.MaxRecords}, base.FormatID(rec.ID))
		}
		return nil, fmt.Errorf("%w: record of %s (%d bytes) refused", &base.LimitError{Limit: "MaxRecordBytes", Max: r.cfg.MaxBytes}, base.FormatID(rec.ID), len(raw))
	}
	raw = slices.Clip(raw)
	r.bytes += grow
	r.noteExpiry(rec.Expiry)
	if old != nil {
		topo := old.relays() != rec.Relay || !sameNeighbours(old, raw)
		old.raw = raw
		r.reindex(rec.ID, rec.Services)
		if topo {
			r.changed()
		}
	} else {
		r.db[rec.ID] = &entry{raw: raw}
		r.reindex(rec.ID, rec.Services)
		r.changed()
	}
	return []OutMsg{{Except: from, ID: rec.ID, Raw: raw}}, nil
}

// HeldSeq returns the sequence number of the record of id held (ours
// included), and whether one is held.
func (r *Router) HeldSeq(id uint64) (uint64, bool) {
	if id == r.cfg.Self {
		return r.seq, r.ownRaw != nil
	}
	if e := r.db[id]; e != nil {
		return e.seq(), true
	}
	return 0, false
}

// IsCopy reports whether raw, an encoded record, is a copy of the one held
// for its id (same sequence number): the common case of flooding, where a
// record arrives once from each neighbour. It reads the fixed-offset
// fields only, so the record need not be decoded; anything else (too
// short, newer, older, unknown) is for Receive to judge.
func (r *Router) IsCopy(raw []byte) bool {
	if len(raw) < MinRecordLen {
		return false
	}
	id := binary.BigEndian.Uint64(raw[2:])
	seq, ok := r.HeldSeq(id)
	return ok && seq == binary.BigEndian.Uint64(raw[OffSeq:]) && id != r.cfg.Self
}

// sameNeighbours reports whether e and the encoded record raw list the
// same neighbours.
func sameNeighbours(e *entry, raw []byte) bool {
	n := e.numNeigh()
	end := offNeighbours + 2 + 8*n
	return len(raw) >= end && string(e.raw[offNeighbours:end]) == string(raw[offNeighbours:end])
}

// fits reports whether the database has room for a record of grow more
// bytes (a new one, when isNew, or one that replaces another).
func (r *Router) fits(isNew bool, grow int) bool {
	return (!isNew || len(r.db) < r.cfg.MaxRecords) && (r.cfg.MaxBytes == 0 || r.bytes+grow <= r.cfg.MaxBytes)
}

// makeRoom makes room for a record of id (see fits) in a full database:
// it drops the expired records, then those of nodes we cannot reach, but
// never id's. It reports whether there is room now.
func (r *Router) makeRoom(now time.Time, id uint64, isNew bool, grow int) bool {
	r.Purge(now)
	if r.fits(isNew, grow) {
		return true
	}
	r.compute()
	for x, e := range r.db {
		if e.epoch != r.epoch && x != id {
			r.drop(x, e)
			if r.fits(isNew, grow) {
				return true
			}
		}
	}
	return false
}

// drop deletes the record of id, e, from the database.
func (r *Router) drop(id uint64, e *entry) {
	delete(r.db, id)
	r.reindex(id, nil)
	r.bytes -= len(e.raw)
	r.changed()
}

// Tick does what is due at now: originate a record held down or due for
// refresh, drop expired records.
func (r *Router) Tick(now time.Time) []OutMsg {
	if !now.Before(r.purgeAt) || r.expireAt != 0 && now.UnixMilli() >= r.expireAt {
		r.Purge(now)
		r.purgeAt = now.Add(r.cfg.Lifetime / 8)
	}
	if r.own != nil && now.UnixMilli() >= r.refreshAt() {
		r.dirty = true
	}
	return r.originate(now, nil)
}

// refreshAt is when our record, a third of its lifetime old, is renewed.
func (r *Router) refreshAt() int64 {
	return r.own.Expiry - r.cfg.Lifetime.Milliseconds()*2/3
}

// NextWake returns when Tick should next be called.
func (r *Router) NextWake() time.Time {
	t := r.purgeAt
	if r.expireAt != 0 {
		if e := time.UnixMilli(r.expireAt); e.Before(t) {
			t = e
		}
	}
	if r.dirty {
		if h := r.lastOrig.Add(r.cfg.HoldDown); h.Before(t) {
			t = h
		}
	}
	if r.own != nil {
		if f := time.UnixMilli(r.refreshAt()); f.Before(t) {
			t = f
		}
	}
	return t
}

// Purge drops the records that expired, so that routes never go through
// them: Tick calls it when the first record expires (see expireAt), and
// every lifetime/8 besides.
func (r *Router) Purge(now time.Time) {
	ms := now.UnixMilli()
	r.expireAt = 0
	for id, e := range r.db {
		if x := e.expiry(); x <= ms {
			r.drop(id, e)
		} else {
			r.noteExpiry(x)
		}
	}
}

// noteExpiry takes into account a record held that expires at x (unix
// milliseconds).
func (r *Router) noteExpiry(x int64) {
	if r.expireAt == 0 || x < r.expireAt {
		r.expireAt = x
	}
}

// Reoriginate makes our record anew (now, or at the end of the
// hold-down), after a change of what Config.Encode puts in it that the
// router cannot see, such as our certificate.
func (r *Router) Reoriginate(now time.Time) []OutMsg {
	r.dirty = true
	return r.originate(now, nil)
}

// originate makes and floods a new record of ours if it is dirty and the
// hold-down since the last one has passed.
func (r *Router) originate(now time.Time, out []OutMsg) []OutMsg {
	if !r.dirty || !r.lastOrig.IsZero() && now.Sub(r.lastOrig) < r.cfg.HoldDown {
		return out
	}
	rec := &Record{
		ID:       r.cfg.Self,
		Seq:      nextSeq(r.seq),
		Expiry:   now.Add(r.cfg.Lifetime).UnixMilli(),
		Relay:    r.cfg.Relay,
		Services: r.services,
	}
	rec.Neighbours = make([]uint64, 0, len(r.links))
	for id := range r.links {
		rec.Neighbours = append(rec.Neighbours, id)
	}
	slices.Sort(rec.Neighbours)
	raw, err := r.cfg.Encode(rec)
	if err != nil {
		return out // a signing failure: keep the old record; retried at the next tick
	}
	r.seq = rec.Seq
	r.own, r.ownRaw = rec, raw
	r.dirty = false
	r.lastOrig = now
	r.originated++
	return append(out, OutMsg{ID: r.cfg.Self, Raw: raw})
}

// nextSeq returns the sequence number after seq. It saturates at the
// largest: a wrap to 0 would make every later record of ours stale (a
// record of our id with that number, from a peer on an unsecured mesh or
// from a previous run, would otherwise silence us for good, and make us
// re-originate each time it came back).
func nextSeq(seq uint64) uint64 {
	if seq == math.MaxUint64 {
		return seq
	}
	return seq + 1
}

// changed invalidates the routes.
func (r *Router) changed() {
	r.valid = false
	r.changes++
}

// compute finds the shortest paths (in hops) from us to every node, by
// breadth-first search. An edge counts when both ends list each other
// (ours are the live links); only nodes whose record says they relay are
// passed through.
func (r *Router) compute() {
	if r.valid {
		return
	}
	r.valid = true
	r.epoch++
	r.nRoutes = 0
	q := r.queue[:0]
	for id := range r.links {
		if e := r.db[id]; e != nil {
			e.epoch, e.hops, e.next, e.prev = r.epoch, 1, id, r.cfg.Self
			q = append(q, id)
		}
		r.nRoutes++
	}
	slices.Sort(q) // deterministic paths among equals
	for i := 0; i < len(q); i++ {
		v := q[i]
		ev := r.db[v]
		if !ev.relays() {
			continue
		}
		for j, n := 0, ev.numNeigh(); j < n; j++ {
			w := ev.neigh(j)
			if w == r.cfg.Self {
				continue
			}
			ew := r.db[w]
			if ew == nil || ew.epoch == r.epoch || !ew.lists(v) {
				continue
			}
			ew.epoch, ew.hops, ew.next, ew.prev = r.epoch, ev.hops+1, ev.next, v
			q = append(q, w)
			r.nRoutes++
		}
	}
	r.queue = q[:0]
}

// Path returns the path from us to dst (us first, dst last), or nil.
func (r *Router) Path(dst uint64) []uint64 {
	if _, ok := r.links[dst]; ok {
		return []uint64{r.cfg.Self, dst}
	}
	r.compute()
	e := r.db[dst]
	if e == nil || e.epoch != r.epoch {
		return nil
	}
	p := make([]uint64, e.hops+1)
	p[e.hops] = dst
	for i := int(e.hops) - 1; i > 0; i-- {
		p[i] = e.prev
		e = r.db[e.prev]
	}
	p[0] = r.cfg.Self
	return p
}

// PathAvoiding returns the shortest path from us to dst (us first, dst
// last) whose relays are none of those avoid reports, or nil. It searches
// as compute does, and so finds Path's path when avoid reports none, but
// keeps its state to itself: the routes stay as computed.
func (r *Router) PathAvoiding(dst uint64, avoid func(uint64) bool) []uint64 {
	if _, ok := r.links[dst]; ok {
		return []uint64{r.cfg.Self, dst}
	}
	if r.db[dst] == nil {
		return nil
	}
	prev := make(map[uint64]uint64) // the node before each node reached
	var q []uint64
	for id := range r.links {
		if r.db[id] != nil {
			prev[id] = r.cfg.Self
			q = append(q, id)
		}
	}
	slices.Sort(q)
	for i := 0; i < len(q); i++ {
		v := q[i]
		ev := r.db[v]
		if !ev.relays() || avoid(v) {
			continue
		}
		for j, n := 0, ev.numNeigh(); j < n; j++ {
			w := ev.neigh(j)
			if _, seen := prev[w]; seen || w == r.cfg.Self {
				continue
			}
			ew := r.db[w]
			if ew == nil || !ew.lists(v) {
				continue
			}
			prev[w] = v
			if w == dst {
				p := []uint64{dst}
				for x := v; x != r.cfg.Self; x = prev[x] {
					p = append(p, x)
				}
				p = append(p, r.cfg.Self)
				slices.Reverse(p)
				return p
			}
			q = append(q, w)
		}
	}
	return nil
}

// Hops returns the hops to id (0 for us), or -1 if it is unreachable.
func (r *Router) Hops(id uint64) int {
	if id == r.cfg.Self {
		return 0
	}
	if _, ok := r.links[id]; ok {
		return 1
	}
	r.compute()
	if e := r.db[id]; e != nil && e.epoch == r.epoch {
		return int(e.hops)
	}
	return -1
}

// Route is one entry of the route table: a host reachable from this node,
// the neighbour through which it is reached, and how many hops away it is.
type Route struct {
	Host    uint64
	NextHop uint64
	Hops    int
}

// Routes lists the route table, sorted by host.
func (r *Router) Routes() []Route {
	r.compute()
	out := make([]Route, 0, r.nRoutes)
	for id := range r.links {
		out = append(out, Route{Host: id, NextHop: id, Hops: 1})
	}
	for id, e := range r.db {
		if e.epoch == r.epoch {
			if _, direct := r.links[id]; !direct {
				out = append(out, Route{Host: id, NextHop: e.next, Hops: int(e.hops)})
			}
		}
	}
	slices.SortFunc(out, func(a, b Route) int { return cmp.Compare(a.Host, b.Host) })
	return out
}

// reindex updates the service index for the record of id, whose
// services are now new.
func (r *Router) reindex(id uint64, new []Service) {
	old := r.svcOf[id]
	if slices.Equal(old, new) {
		return
	}
	if len(new) == 0 {
		delete(r.svcOf, id)
	} else {
		r.svcOf[id] = new
	}
	for _, s := range old {
		k := nameKey{s.Env, s.Name}
		if m := r.byName[k]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(r.byName, k)
			}
		}
	}
	for _, s := range new {
		k := nameKey{s.Env, s.Name}
		m := r.byName[k]
		if m == nil {
			m = make(map[uint64]struct{})
			r.byName[k] = m
		}
		m[id] = struct{}{}
	}
}

// ServiceInstances calls f for every instance of the service name in env
// that the records of reachable nodes other than us list, with its host,
// port and hops. It costs the instances of that name, not the table.
func (r *Router) ServiceInstances(env, name string, f func(host uint64, port uint32, hops int)) {
	m := r.byName[nameKey{env, name}]
	if len(m) == 0 {
		return
	}
	r.compute()
	for id := range m {
		e := r.db[id]
		if e == nil || e.epoch != r.epoch {
			continue
		}
		for _, s := range r.svcOf[id] {
			if s.Env == env && s.Name == name {
				f(id, s.Port, int(e.hops))
			}
		}
	}
}

// Reachable calls f for every reachable node other than us, with the
// services of its record and its hops.
func (r *Router) Reachable(f func(id uint64, services []Service, hops int)) {
	r.compute()
	for id, e := range r.db {
		if e.epoch == r.epoch {
			f(id, r.svcOf[id], int(e.hops))
		}
	}
}
