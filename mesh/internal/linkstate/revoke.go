package linkstate

import (
	"slices"
	"time"
)

// Revoke makes the router hold ids, a revocation list (sorted): the
// records of those ids are dropped and the links to them no longer count,
// and from then on neither is taken (LinkUp, Receive), so that no route
// leads to or through a revoked id and no service of one is listed. Our
// own id is exempt (a revoked node keeps running). Our record is
// re-originated if our links changed.
func (r *Router) Revoke(ids []uint64, now time.Time) []OutMsg {
	r.revoked = ids
	for _, id := range ids {
		if id == r.cfg.Self {
			continue
		}
		if e := r.db[id]; e != nil {
			r.drop(id, e)
		}
		if _, ok := r.links[id]; ok {
			delete(r.links, id)
			r.changed()
			r.dirty = true
		}
	}
	return r.originate(now, nil)
}

// isRevoked reports whether id is revoked (never our own id).
func (r *Router) isRevoked(id uint64) bool {
	if len(r.revoked) == 0 || id == r.cfg.Self {
		return false
	}
	_, ok := slices.BinarySearch(r.revoked, id)
	return ok
}
