// Package pending bounds the handshakes a server runs for peers it has not
// authenticated yet, without ever making a newcomer wait, and fairly: the
// SP listener's handshakes (transport/spstream), and a mesh node's links
// accepted from a listener (by source address), circuits ending there
// before their end-to-end TLS and circuit setups being forwarded (by
// neighbour, then by the source they claim).
package pending

import (
	"container/list"
	"net"
	"sync"
)

// Set holds pending handshakes, oldest first, in all and per key (a
// source address, a neighbour), and within a key per sub-key (the node a
// neighbour got a setup from). Admitting one past a cap first drops a
// pending one that it counts against (its cancel is called), fairly:
// past MaxAll, one of the key that has the most pending; past MaxPerKey,
// one of the key's sub-key that has the most; and in either, the oldest
// of those, and a silent one before any that was heard (see Heard). So
// silent or slow peers only ever cut each other short, a flood from one
// key (or sub-key) drops its own handshakes first, a flood of silent
// connections from many keys drops only silent ones, and a peer that
// completes its handshake at once gets in unless its own key (or sub-key)
// holds the most meanwhile. Set the caps before the first Admit.
type Set struct {
	MaxAll    int // 0: no cap in all
	MaxPerKey int // 0: no cap per key

	mu     sync.Mutex
	all    list.List // of *Entry
	byKey  map[string]*keyList
	loose  count // the handshakes counted in all only (key "")
	silent int   // the handshakes not heard, in all
}

// count is a number of pending handshakes, and how many of them are
// silent (not heard).
type count struct{ n, silent int }

// of returns the handshakes counted, or the silent ones only.
func (c count) of(silent bool) int {
	if silent {
		return c.silent
	}
	return c.n
}

// keyList is the pending handshakes of one key, oldest first, and how
// many of them each sub-key has.
type keyList struct {
	l    list.List // of *Entry
	c    count
	subs map[string]*count
}

// Entry is one handshake of a Set.
type Entry struct {
	key    string // "": counted in all only
	sub    string
	cancel func()
	heard  bool          // Heard was called
	inAll  *list.Element // nil once it left the set (done or dropped)
	inKey  *list.Element
}

// Admit records a pending handshake of key ("": counted in all only); see
// AdmitSub.
func (s *Set) Admit(key string, cancel func()) *Entry { return s.AdmitSub(key, "", cancel) }

// AdmitSub records a pending handshake of key and, within it, sub,
// dropping one of its key when MaxPerKey is reached, and then one of all
// when MaxAll is (see Set). cancel ends the handshake when it is dropped;
// it is called without the set's lock.
func (s *Set) AdmitSub(key, sub string, cancel func()) *Entry {
	p := &Entry{key: key, sub: sub, cancel: cancel}
	var drop []*Entry
	s.mu.Lock()
	if key != "" && s.MaxPerKey > 0 {
		if kl := s.byKey[key]; kl != nil && kl.l.Len() >= s.MaxPerKey {
			drop = append(drop, s.unlink(kl.victim()))
		}
	}
	if s.MaxAll > 0 && s.all.Len() >= s.MaxAll {
		drop = append(drop, s.unlink(s.victim()))
	}
	p.inAll = s.all.PushBack(p)
	s.silent++
	if key == "" {
		s.loose.n++
		s.loose.silent++
	} else {
		if s.byKey == nil {
			s.byKey = make(map[string]*keyList)
		}
		kl := s.byKey[key]
		if kl == nil {
			kl = &keyList{subs: make(map[string]*count)}
			s.byKey[key] = kl
		}
		p.inKey = kl.l.PushBack(p)
		c := kl.subs[sub]
		if c == nil {
			c = new(count)
			kl.subs[sub] = c
		}
		c.n++
		c.silent++
		kl.c.n++
		kl.c.silent++
	}
	s.mu.Unlock()
	for _, d := range drop {
		d.cancel()
	}
	return p
}

// Heard records that the peer of p has spoken (a TLS ClientHello, say):
// a silent handshake is dropped before it, past a cap.
func (s *Set) Heard(p *Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.inAll == nil || p.heard {
		return
	}
	p.heard = true
	s.silent--
	if p.key == "" {
		s.loose.silent--
		return
	}
	kl := s.byKey[p.key]
	kl.c.silent--
	kl.subs[p.sub].silent--
}

// victim returns the handshake of kl to drop: the oldest of the sub-key
// that has the most, counting only the silent ones if there are any.
func (kl *keyList) victim() *Entry {
	silent := kl.c.silent > 0
	most := 0
	for _, c := range kl.subs {
		most = max(most, c.of(silent))
	}
	for e := kl.l.Front(); ; e = e.Next() {
		if p := e.Value.(*Entry); (!silent || !p.heard) && kl.subs[p.sub].of(silent) == most {
			return p
		}
	}
}

// victim returns the handshake to drop from all: of the key that has the
// most (the handshakes counted in all only count as one key; among
// equals, the key of the oldest handshake), the one its own cap would
// drop, counting only the silent ones if there are any. s.mu must be held
// and the set must not be empty.
func (s *Set) victim() *Entry {
	silent := s.silent > 0
	most := s.loose.of(silent)
	for _, kl := range s.byKey {
		most = max(most, kl.c.of(silent))
	}
	for e := s.all.Front(); ; e = e.Next() {
		p := e.Value.(*Entry)
		switch {
		case silent && p.heard:
		case p.key == "":
			if s.loose.of(silent) == most {
				return p
			}
		case s.byKey[p.key].c.of(silent) == most:
			return s.byKey[p.key].victim()
		}
	}
}

// unlink takes p out of the set. s.mu must be held.
func (s *Set) unlink(p *Entry) *Entry {
	s.all.Remove(p.inAll)
	p.inAll = nil
	quiet := 0
	if !p.heard {
		quiet = 1
		s.silent--
	}
	if p.key == "" {
		s.loose.n--
		s.loose.silent -= quiet
		return p
	}
	kl := s.byKey[p.key]
	kl.l.Remove(p.inKey)
	p.inKey = nil
	kl.c.n--
	kl.c.silent -= quiet
	if c := kl.subs[p.sub]; c.n <= 1 {
		delete(kl.subs, p.sub)
	} else {
		c.n--
		c.silent -= quiet
	}
	if kl.l.Len() == 0 {
		delete(s.byKey, p.key)
	}
	return p
}

// Done takes p out of the set once its handshake ended. It reports false
// if p was dropped meanwhile (its cancel was or is being called).
func (s *Set) Done(p *Entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.inAll == nil {
		return false
	}
	s.unlink(p)
	return true
}

// Len returns the number of pending handshakes of key ("": in all).
func (s *Set) Len(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		return s.all.Len()
	}
	if kl := s.byKey[key]; kl != nil {
		return kl.l.Len()
	}
	return 0
}

// SourceKey returns the key that groups connections from one source: the
// IPv4 address, or the /64 prefix of an IPv6 address (what one host
// usually has); "" for addresses that are not IP.
func SourceKey(a net.Addr) string {
	var ip net.IP
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	default:
		return ""
	}
	if ip4 := ip.To4(); ip4 != nil {
		return string(ip4)
	}
	if len(ip) == net.IPv6len {
		return string(ip.Mask(net.CIDRMask(64, 128)))
	}
	return ""
}
