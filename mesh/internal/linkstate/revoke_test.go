package linkstate

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// TestRouterRevoke: the router never routes to or through a revoked id:
// their records are dropped and refused, links to them no longer count,
// and our own id is exempt.
func TestRouterRevoke(t *testing.T) {
	const self = 1
	r := testRouter(self, true)
	r.LinkUp(2, t0)
	r.LinkUp(5, t0)
	for id, nbrs := range map[uint64][]uint64{2: {1, 3}, 3: {2, 4}, 4: {3}, 5: {1}} {
		rc, raw := rec(t, id, 1, true, nbrs...)
		if _, err := r.Receive(rc, raw, 2, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Routes(); len(got) != 4 {
		t.Fatalf("routes %v", got)
	}
	out := r.Revoke([]uint64{self, 3, 5}, t0.Add(time.Second))
	if want := []Route{{2, 2, 1}}; !slices.Equal(r.Routes(), want) {
		t.Fatalf("routes %v, want %v", r.Routes(), want)
	}
	if r.db[3] != nil || r.db[5] != nil || r.IsLink(5) || r.isRevoked(self) {
		t.Fatal("a revoked id is still held")
	}
	if len(out) != 1 || out[0].ID != self {
		t.Fatalf("revoking a neighbour sent %v, want our new record", out)
	}
	own, _ := DecodeRecord(out[0].Raw, 10)
	if !slices.Equal(own.Neighbours, []uint64{2}) {
		t.Fatalf("our record lists %v", own.Neighbours)
	}
	rc, raw := rec(t, 3, 2, true, 2, 4)
	if _, err := r.Receive(rc, raw, 2, t0); !errors.Is(err, base.ErrNotAuthorized) {
		t.Fatalf("a revoked node's record: %v", err)
	}
	if out := r.LinkUp(5, t0); out != nil || r.IsLink(5) {
		t.Fatal("a link to a revoked node counts")
	}
	if r.Path(4) != nil || r.Hops(3) != -1 {
		t.Fatal("a path through a revoked node")
	}
}
