package mesh

import (
	"container/list"
	"sync"
)

// pendingSet holds the handshakes a node runs for peers it has not
// authenticated yet (links accepted from a listener, circuits ending here
// before their end-to-end TLS) or whose outcome is not known yet (circuit
// setups being forwarded), oldest first, in all and per key (a source
// address, a neighbour). They are bounded without ever making a newcomer
// wait: admitting one past a cap first drops the oldest pending one it
// counts against (its cancel is called). So silent or slow peers only ever
// cut each other short, and a peer that completes its handshake at once
// gets in unless more than the cap arrive from its key meanwhile.
//
// The SP listener (transport/spstream) bounds its handshakes the same way.
type pendingSet struct {
	mu        sync.Mutex
	all       list.List // of *pending
	byKey     map[string]*list.List
	maxAll    int // 0: no cap in all
	maxPerKey int // 0: no cap per key
}

// pending is one handshake of a pendingSet.
type pending struct {
	key    string // "": counted in all only
	cancel func()
	inAll  *list.Element // nil once it left the set (done or dropped)
	inKey  *list.Element
}

// admit records a pending handshake of key, dropping the oldest of its
// key, and then the oldest of all, when a cap is reached. cancel ends the
// handshake when it is dropped; it is called without the set's lock.
func (s *pendingSet) admit(key string, cancel func()) *pending {
	p := &pending{key: key, cancel: cancel}
	var drop []*pending
	s.mu.Lock()
	if key != "" && s.maxPerKey > 0 {
		if kl := s.byKey[key]; kl != nil && kl.Len() >= s.maxPerKey {
			drop = append(drop, s.unlink(kl.Front().Value.(*pending)))
		}
	}
	if s.maxAll > 0 && s.all.Len() >= s.maxAll {
		drop = append(drop, s.unlink(s.all.Front().Value.(*pending)))
	}
	p.inAll = s.all.PushBack(p)
	if key != "" {
		if s.byKey == nil {
			s.byKey = make(map[string]*list.List)
		}
		kl := s.byKey[key]
		if kl == nil {
			kl = list.New()
			s.byKey[key] = kl
		}
		p.inKey = kl.PushBack(p)
	}
	s.mu.Unlock()
	for _, d := range drop {
		d.cancel()
	}
	return p
}

// unlink takes p out of the set. s.mu must be held.
func (s *pendingSet) unlink(p *pending) *pending {
	s.all.Remove(p.inAll)
	p.inAll = nil
	if p.inKey != nil {
		kl := s.byKey[p.key]
		kl.Remove(p.inKey)
		if kl.Len() == 0 {
			delete(s.byKey, p.key)
		}
		p.inKey = nil
	}
	return p
}

// done takes p out of the set once its handshake ended. It reports false
// if p was dropped meanwhile (its cancel was or is being called).
func (s *pendingSet) done(p *pending) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.inAll == nil {
		return false
	}
	s.unlink(p)
	return true
}

// len returns the number of pending handshakes of key ("": in all).
func (s *pendingSet) len(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		return s.all.Len()
	}
	if kl := s.byKey[key]; kl != nil {
		return kl.Len()
	}
	return 0
}
