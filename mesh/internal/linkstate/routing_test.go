package linkstate

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// t0 is the start of the routing tests' clock.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	testHold     = 100 * time.Millisecond
	testLifetime = 10 * time.Minute
)

func testRouter(self uint64, relay bool) *Router {
	return NewRouter(Config{
		Self: self, Relay: relay, HoldDown: testHold, Lifetime: testLifetime, MaxRecords: 100,
		Encode: func(r *Record) ([]byte, error) { return EncodeRecord(r, nil) },
	}, t0)
}

// rec makes an encoded record of id listing neighbours.
func rec(t testing.TB, id, seq uint64, relay bool, neighbours ...uint64) (*Record, []byte) {
	t.Helper()
	r := &Record{ID: id, Seq: seq, Expiry: t0.Add(testLifetime).UnixMilli(), Relay: relay, Neighbours: slices.Sorted(slices.Values(neighbours))}
	raw, err := EncodeRecord(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeRecord(raw, 10)
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// node of a test graph: its neighbours and whether it relays.
type gnode struct {
	relay bool
	nbrs  []uint64
}

func TestRoutesFromGraphs(t *testing.T) {
	const self = 1
	cases := []struct {
		name  string
		links []uint64         // our live links
		graph map[uint64]gnode // the records we hold
		want  []Route
	}{
		{
			name:  "neighbour without a record",
			links: []uint64{2},
			want:  []Route{{2, 2, 1}},
		},
		{
			name:  "chain through a relay",
			links: []uint64{2},
			graph: map[uint64]gnode{2: {true, []uint64{1, 3}}, 3: {true, []uint64{2, 4}}, 4: {false, []uint64{3}}},
			want:  []Route{{2, 2, 1}, {3, 2, 2}, {4, 2, 3}},
		},
		{
			name:  "a node that does not relay is not passed through",
			links: []uint64{2},
			graph: map[uint64]gnode{2: {false, []uint64{1, 3}}, 3: {true, []uint64{2}}},
			want:  []Route{{2, 2, 1}},
		},
		{
			name:  "a link counts only when both ends list it",
			links: []uint64{2},
			graph: map[uint64]gnode{2: {true, []uint64{1, 3}}, 3: {true, nil}},
			want:  []Route{{2, 2, 1}},
		},
		{
			name:  "no record, no route beyond",
			links: []uint64{2},
			graph: map[uint64]gnode{3: {true, []uint64{2}}},
			want:  []Route{{2, 2, 1}},
		},
		{
			name:  "shortest of two paths",
			links: []uint64{2, 5},
			graph: map[uint64]gnode{
				2: {true, []uint64{1, 3}}, 3: {true, []uint64{2, 4}}, 4: {true, []uint64{3, 6}},
				5: {true, []uint64{1, 6}}, 6: {true, []uint64{4, 5}},
			},
			want: []Route{{2, 2, 1}, {3, 2, 2}, {4, 2, 3}, {5, 5, 1}, {6, 5, 2}},
		},
		{
			name:  "equal paths: the lower neighbour id wins",
			links: []uint64{3, 2},
			graph: map[uint64]gnode{2: {true, []uint64{1, 4}}, 3: {true, []uint64{1, 4}}, 4: {true, []uint64{2, 3}}},
			want:  []Route{{2, 2, 1}, {3, 3, 1}, {4, 2, 2}},
		},
		{
			name:  "a record that lists us without our link is ignored",
			links: nil,
			graph: map[uint64]gnode{2: {true, []uint64{1}}},
			want:  []Route{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := testRouter(self, true)
			for _, l := range tc.links {
				r.LinkUp(l, t0)
			}
			for id, g := range tc.graph {
				rc, raw := rec(t, id, 1, g.relay, g.nbrs...)
				if _, err := r.Receive(rc, raw, 0, t0); err != nil {
					t.Fatal(err)
				}
			}
			got := r.Routes()
			if !slices.Equal(got, tc.want) {
				t.Fatalf("routes %v, want %v", got, tc.want)
			}
			for _, w := range tc.want {
				p := r.Path(w.Host)
				if len(p) != w.Hops+1 || p[0] != self || p[len(p)-1] != w.Host || p[1] != w.NextHop {
					t.Fatalf("path to %d: %v", w.Host, p)
				}
				if pa := r.PathAvoiding(w.Host, func(uint64) bool { return false }); !slices.Equal(pa, p) {
					t.Fatalf("path to %d avoiding nothing: %v, want %v", w.Host, pa, p)
				}
			}
		})
	}
}

// TestPathAvoiding: the shortest path whose relays avoid a set of nodes
// (the destination itself is never avoided), or none.
func TestPathAvoiding(t *testing.T) {
	const self = 1
	// 1 - 2 - 9 (the short path, through 2), 1 - 3 - 4 - 9, 1 - 5 - 6 - 7 - 9
	graph := map[uint64]gnode{
		2: {true, []uint64{1, 9}},
		3: {true, []uint64{1, 4}}, 4: {true, []uint64{3, 9}},
		5: {true, []uint64{1, 6}}, 6: {true, []uint64{5, 7}}, 7: {true, []uint64{6, 9}},
		9: {true, []uint64{2, 4, 7}},
	}
	r := testRouter(self, true)
	for _, l := range []uint64{2, 3, 5} {
		r.LinkUp(l, t0)
	}
	for id, g := range graph {
		rc, raw := rec(t, id, 1, g.relay, g.nbrs...)
		if _, err := r.Receive(rc, raw, 0, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		avoid []uint64
		want  []uint64
	}{
		{nil, []uint64{1, 2, 9}},
		{[]uint64{2}, []uint64{1, 3, 4, 9}},
		{[]uint64{2, 4}, []uint64{1, 5, 6, 7, 9}},
		{[]uint64{2, 3, 6}, nil},
		{[]uint64{9}, []uint64{1, 2, 9}}, // the destination is not a relay
	} {
		got := r.PathAvoiding(9, func(id uint64) bool { return slices.Contains(tc.avoid, id) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("avoiding %v: %v, want %v", tc.avoid, got, tc.want)
		}
	}
	if p := r.Path(9); !slices.Equal(p, []uint64{1, 2, 9}) {
		t.Fatalf("the routes changed: %v", p)
	}
}

func TestReceiveNewerOlderSame(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	r.LinkUp(3, t0)
	rc5, raw5 := rec(t, 9, 5, true, 2)
	out, err := r.Receive(rc5, raw5, 2, t0)
	if err != nil || len(out) != 1 || out[0].Except != 2 || out[0].To != 0 || out[0].ID != 9 {
		t.Fatalf("a new record is flooded to all but its sender: %+v %v", out, err)
	}
	if out, err := r.Receive(rc5, raw5, 3, t0); err != nil || len(out) != 0 {
		t.Fatalf("a copy: %+v %v", out, err)
	}
	rc4, raw4 := rec(t, 9, 4, true, 2)
	out, err = r.Receive(rc4, raw4, 3, t0)
	if !errors.Is(err, base.ErrStaleRecord) {
		t.Fatalf("an older record (a replay): %v, want base.ErrStaleRecord", err)
	}
	if len(out) != 1 || out[0].To != 3 || string(out[0].Raw) != string(raw5) {
		t.Fatalf("the newer record goes back to the sender of the older: %+v", out)
	}
	rc6, raw6 := rec(t, 9, 6, true, 2, 3)
	if _, err := r.Receive(rc6, raw6, 3, t0); err != nil {
		t.Fatal(err)
	}
	if seq, _ := r.HeldSeq(9); seq != 6 {
		t.Fatalf("held seq %d", seq)
	}
}

// TestUnverifiedRecordNeverStored: a record whose signature was not
// checked (a newer one was held when it arrived) is judged stale or a copy
// only while a newer or equal one is held; otherwise the router refuses it
// with ErrUnverified, and stores nothing.
func TestUnverifiedRecordNeverStored(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	rc5, raw5 := rec(t, 9, 5, true, 2)
	if _, err := r.ReceiveUnverified(rc5, raw5, 2, t0); !errors.Is(err, ErrUnverified) {
		t.Fatalf("nothing held: %v, want ErrUnverified", err)
	}
	if _, ok := r.HeldSeq(9); ok {
		t.Fatal("an unverified record was stored")
	}
	r.Receive(rc5, raw5, 2, t0)
	rc4, raw4 := rec(t, 9, 4, true, 2)
	if out, err := r.ReceiveUnverified(rc4, raw4, 2, t0); !errors.Is(err, base.ErrStaleRecord) || len(out) != 1 {
		t.Fatalf("a newer one held: %+v %v, want base.ErrStaleRecord and the newer one sent back", out, err)
	}
	if _, err := r.ReceiveUnverified(rc5, raw5, 2, t0); err != nil {
		t.Fatalf("a copy: %v", err)
	}
	rc6, raw6 := rec(t, 9, 6, true, 2)
	if _, err := r.ReceiveUnverified(rc6, raw6, 2, t0); !errors.Is(err, ErrUnverified) {
		t.Fatalf("newer than the one held: %v, want ErrUnverified", err)
	}
	if seq, _ := r.HeldSeq(9); seq != 5 {
		t.Fatalf("held seq %d, want 5", seq)
	}
	own, ownRaw := rec(t, 1, r.seq, true, 2)
	if _, err := r.ReceiveUnverified(own, ownRaw, 2, t0); !errors.Is(err, ErrUnverified) {
		t.Fatalf("our own id, our sequence, other content: %v, want ErrUnverified", err)
	}
}

func TestReceiveRefusesExpiredAndFarFuture(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	old := &Record{ID: 9, Seq: 1, Expiry: t0.Add(-time.Second).UnixMilli()}
	raw, _ := EncodeRecord(old, nil)
	if _, err := r.Receive(old, raw, 2, t0); !errors.Is(err, base.ErrBadRecord) {
		t.Fatalf("expired: %v", err)
	}
	far := &Record{ID: 9, Seq: 1, Expiry: t0.Add(time.Hour * 24 * 365).UnixMilli()}
	raw, _ = EncodeRecord(far, nil)
	if _, err := r.Receive(far, raw, 2, t0); !errors.Is(err, base.ErrBadRecord) {
		t.Fatalf("far future: %v", err)
	}
}

func TestOwnRecordFromAPreviousRun(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	ours := r.seq
	// A record of our id with a higher sequence (a previous run whose
	// clock was ahead): we re-originate above it.
	rc, raw := rec(t, 1, ours+1000, true)
	out, err := r.Receive(rc, raw, 2, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if r.seq <= ours+1000 || len(out) != 1 || out[0].ID != 1 {
		t.Fatalf("seq %d after a record of ours at %d; out %+v", r.seq, ours+1000, out)
	}
	// An older one of ours: refused, and ours sent back.
	rc, raw = rec(t, 1, 5, true)
	out, err = r.Receive(rc, raw, 2, t0.Add(2*time.Second))
	if !errors.Is(err, base.ErrStaleRecord) || len(out) != 1 || out[0].To != 2 {
		t.Fatalf("%v %+v", err, out)
	}
}

func TestRestartedNodeOutranksItsOldRecords(t *testing.T) {
	before := testRouter(7, true)
	before.Tick(t0)
	after := NewRouter(before.cfg, t0.Add(time.Millisecond))
	after.Tick(t0.Add(time.Millisecond))
	if after.seq <= before.seq {
		t.Fatalf("restarted seq %d <= %d", after.seq, before.seq)
	}
	// Even after many changes of the first run.
	for i := range 1000 {
		before.LinkUp(uint64(100+i), t0.Add(time.Duration(i)*testHold))
	}
	if after.seq <= before.seq {
		t.Fatalf("restarted seq %d <= %d after 1000 changes", after.seq, before.seq)
	}
}

func TestHoldDownCoalescesChurn(t *testing.T) {
	r := testRouter(1, true)
	r.Tick(t0)
	if r.originated != 0 {
		t.Fatalf("originated %d at start, before the first hold-down", r.originated)
	}
	r.Tick(t0.Add(testHold))
	if r.originated != 1 {
		t.Fatalf("originated %d one hold-down after the start", r.originated)
	}
	now := t0.Add(time.Second)
	r.LinkUp(2, now) // at once: the hold-down has passed
	if r.originated != 2 {
		t.Fatalf("a link change after a quiet spell is not announced at once")
	}
	for i := range 10 { // churn within the hold-down
		now = now.Add(testHold / 20)
		if i%2 == 0 {
			r.LinkUp(3, now)
		} else {
			r.LinkDown(3, now)
		}
	}
	if r.originated != 2 {
		t.Fatalf("originated %d times under churn within the hold-down", r.originated)
	}
	wake := r.NextWake()
	if wake.After(t0.Add(time.Second + testHold)) {
		t.Fatalf("next wake %v, want at the end of the hold-down", wake.Sub(t0))
	}
	out := r.Tick(wake)
	if r.originated != 3 || len(out) != 1 {
		t.Fatalf("one coalesced origination at the end of the hold-down: %d, %+v", r.originated, out)
	}
	rc, _ := DecodeRecord(out[0].Raw, 10)
	if !slices.Equal(rc.Neighbours, []uint64{2}) {
		t.Fatalf("the coalesced record lists %v", rc.Neighbours)
	}
}

func TestRefreshAndPurge(t *testing.T) {
	r := testRouter(1, true)
	r.Tick(t0)
	r.LinkUp(2, t0)
	rc, raw := rec(t, 9, 1, true, 2) // expires at t0+lifetime
	r.Receive(rc, raw, 2, t0)
	n := r.originated
	refresh := t0.Add(testLifetime / 3)
	if r.NextWake().After(refresh) {
		t.Fatalf("next wake %v after the refresh time", r.NextWake().Sub(t0))
	}
	r.Tick(refresh)
	if r.originated != n+1 {
		t.Fatal("our record was not refreshed at a third of its lifetime")
	}
	if _, ok := r.HeldSeq(9); !ok {
		t.Fatal("record purged early")
	}
	r.Tick(t0.Add(testLifetime + time.Second))
	if _, ok := r.HeldSeq(9); ok {
		t.Fatal("an expired record was not purged")
	}
}

// TestFullTableEvictsUnreachableFirst: a routing table at its bound, in
// records or in bytes, makes room by evicting a record of an unreachable
// node; full of reachable ones, it refuses the next with a base.LimitError.
func TestFullTableEvictsUnreachableFirst(t *testing.T) {
	// Records of about 8 KiB: 1,000 neighbours each.
	big := func(id uint64, nbrs ...uint64) (*Record, []byte) {
		for i := range 1000 {
			nbrs = append(nbrs, 1<<40+uint64(i))
		}
		return rec(t, id, 1, true, nbrs...)
	}
	small := func(id uint64, nbrs ...uint64) (*Record, []byte) { return rec(t, id, 1, true, nbrs...) }
	for _, tc := range []struct {
		limit string
		make  func(id uint64, nbrs ...uint64) (*Record, []byte)
		bound func(r *Router)
	}{
		{"MaxRecords", small, func(r *Router) { r.cfg.MaxRecords = 3 }},
		{"MaxRecordBytes", big, func(r *Router) { _, one := big(2); r.cfg.MaxBytes = 3*len(one) + 100 }},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			r := testRouter(1, true)
			tc.bound(r)
			r.LinkUp(2, t0)
			add := func(id uint64, nbrs ...uint64) error {
				rc, raw := tc.make(id, nbrs...)
				_, err := r.Receive(rc, raw, 2, t0)
				return err
			}
			if err := add(2, 1, 3); err != nil {
				t.Fatal(err)
			}
			if err := add(3, 2, 4); err != nil {
				t.Fatal(err)
			}
			if err := add(50); err != nil { // unreachable
				t.Fatal(err)
			}
			if err := add(4, 3); err != nil {
				t.Fatalf("a full table did not evict an unreachable record: %v", err)
			}
			if _, ok := r.HeldSeq(50); ok {
				t.Fatal("the unreachable record is still held")
			}
			err := add(5, 4)
			var le *base.LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit || !errors.Is(err, base.ErrLimit) {
				t.Fatalf("a full table of reachable nodes: %v, want %s", err, tc.limit)
			}
			sum := 0
			for _, e := range r.db {
				sum += len(e.raw)
			}
			if sum != r.bytes || len(r.db) > 3 || (r.cfg.MaxBytes > 0 && sum > r.cfg.MaxBytes) {
				t.Fatalf("the table holds %d records of %d bytes, counts %d bytes, bounds %d and %d", len(r.db), sum, r.bytes, r.cfg.MaxRecords, r.cfg.MaxBytes)
			}
		})
	}
}

func TestLinkUpSendsTheDatabase(t *testing.T) {
	r := testRouter(1, true)
	r.Tick(t0)
	r.LinkUp(2, t0)
	for id := uint64(10); id < 15; id++ {
		rc, raw := rec(t, id, 1, true)
		r.Receive(rc, raw, 2, t0)
	}
	out := r.LinkUp(3, t0.Add(time.Second))
	to3 := map[uint64]bool{}
	for _, m := range out {
		if m.To == 3 || m.To == 0 && m.Except != 3 {
			to3[m.ID] = true
		}
	}
	for _, id := range []uint64{1, 10, 11, 12, 13, 14} {
		if !to3[id] {
			t.Fatalf("the new neighbour is not sent record %d: %v", id, to3)
		}
	}
}

// TestServiceIndexFollowsRecords: the router's service index, which dials
// by name read instead of decoding every record, follows records that
// come, change their services, and go, and reports only reachable nodes.
func TestServiceIndexFollowsRecords(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	add := func(id, seq uint64, svc []Service, nbrs ...uint64) {
		t.Helper()
		rc := &Record{ID: id, Seq: seq, Expiry: t0.Add(time.Duration(seq) * time.Minute).UnixMilli(), Relay: true, Neighbours: nbrs, Services: svc}
		raw, err := EncodeRecord(rc, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := DecodeRecord(raw, 10)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Receive(d, raw, 2, t0); err != nil {
			t.Fatal(err)
		}
	}
	find := func(name string) map[uint64]uint32 {
		got := map[uint64]uint32{}
		r.ServiceInstances("", name, func(host uint64, port uint32, hops int) { got[host] = port })
		return got
	}
	billing := func(port uint32) []Service { return []Service{{Name: "billing", Port: port}} }
	add(2, 1, billing(80), 1, 3)
	add(3, 1, billing(81), 2)
	add(9, 1, billing(82)) // unreachable
	if got := find("billing"); len(got) != 2 || got[2] != 80 || got[3] != 81 {
		t.Fatalf("billing: %v", got)
	}
	add(3, 2, []Service{{Name: "mail", Port: 25}}, 2) // 3 moves from billing to mail
	if got := find("billing"); len(got) != 1 || got[2] != 80 {
		t.Fatalf("billing after 3 withdrew it: %v", got)
	}
	if got := find("mail"); len(got) != 1 || got[3] != 25 {
		t.Fatalf("mail: %v", got)
	}
	r.Purge(t0.Add(90 * time.Second)) // the records of seq 1 expire: 2's and 9's
	if got := find("billing"); len(got) != 0 {
		t.Fatalf("billing after its records expired: %v", got)
	}
	if _, ok := r.byName[nameKey{"", "billing"}]; ok {
		t.Fatal("the index keeps an empty entry")
	}
}

// TestSequenceSaturates: a record of our own id with the largest sequence
// number (a forgery on an unsecured mesh, or a previous run's) makes our
// next record keep that number, not wrap to 0, where it would be stale
// everywhere for good.
func TestSequenceSaturates(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	rc, raw := rec(t, 1, math.MaxUint64, true, 2)
	if _, err := r.Receive(rc, raw, 2, t0); err != nil {
		t.Fatal(err)
	}
	r.Tick(t0.Add(testHold))
	if r.seq != math.MaxUint64 || r.own == nil || r.own.Seq != math.MaxUint64 {
		t.Fatalf("our sequence number is %d after the largest", r.seq)
	}
}

// TestExpiredRecordLeavesRoutes: a record is dropped, and the routes
// through it recomputed, when it expires, not at the next periodic purge
// (lifetime/8 later at most).
func TestExpiredRecordLeavesRoutes(t *testing.T) {
	r := testRouter(1, true)
	r.LinkUp(2, t0)
	_, raw2 := rec(t, 2, 1, true, 1, 3)
	rc2, _ := DecodeRecord(raw2, 10)
	r.Receive(rc2, raw2, 2, t0)
	expiry := t0.Add(30 * time.Second)
	rc3 := &Record{ID: 3, Seq: 1, Expiry: expiry.UnixMilli(), Relay: true, Neighbours: []uint64{2}}
	raw3, _ := EncodeRecord(rc3, nil)
	if _, err := r.Receive(rc3, raw3, 2, t0); err != nil {
		t.Fatal(err)
	}
	if h := r.Hops(3); h != 2 {
		t.Fatalf("hops to 3: %d", h)
	}
	if w := r.NextWake(); w.After(expiry) {
		t.Fatalf("next wake %v after the record's expiry", w.Sub(t0))
	}
	r.Tick(expiry)
	if h := r.Hops(3); h != -1 {
		t.Fatalf("hops to 3 after its record expired: %d", h)
	}
}
