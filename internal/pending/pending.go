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
// source address, a neighbour), and within a key per sub-key (the source
// a neighbour claims). Admitting one past a cap first drops a pending one
// that it counts against (its cancel is called), fairly: past MaxAll, the
// oldest of the key that has the most pending; past MaxPerKey, the oldest
// of the key's sub-key that has the most. So silent or slow peers only
// ever cut each other short, a flood from one key (or sub-key) drops its
// own handshakes first, and a peer that completes its handshake at once
// gets in unless its own key (or sub-key) holds the most meanwhile. Set
// the caps before the first Admit.
type Set struct {
	MaxAll    int // 0: no cap in all
	MaxPerKey int // 0: no cap per key

	mu    sync.Mutex
	all   list.List // of *Entry
	byKey map[string]*keyList
}

// keyList is the pending handshakes of one key, oldest first, and how
// many of them each sub-key has.
type keyList struct {
	l    list.List // of *Entry
	subs map[string]int
}

// Entry is one handshake of a Set.
type Entry struct {
	key    string // "": counted in all only
	sub    string
	cancel func()
	inAll  *list.Element // nil once it left the set (done or dropped)
	inKey  *list.Element
}

// Admit records a pending handshake of key ("": counted in all only); see
// AdmitSub.
func (s *Set) Admit(key string, cancel func()) *Entry { return s.AdmitSub(key, "", cancel) }

// AdmitSub records a pending handshake of key and, within it, sub,
// dropping one of its key when MaxPerKey is reached (the oldest of the
// key's sub-key with the most pending), and then one of all when MaxAll
// is (the oldest of the key with the most pending). cancel ends the
// handshake when it is dropped; it is called without the set's lock.
func (s *Set) AdmitSub(key, sub string, cancel func()) *Entry {
	p := &Entry{key: key, sub: sub, cancel: cancel}
	var drop []*Entry
	s.mu.Lock()
	if key != "" && s.MaxPerKey > 0 {
		if kl := s.byKey[key]; kl != nil && kl.l.Len() >= s.MaxPerKey {
			drop = append(drop, s.unlink(kl.fattest()))
		}
	}
	if s.MaxAll > 0 && s.all.Len() >= s.MaxAll {
		drop = append(drop, s.unlink(s.fattestKey()))
	}
	p.inAll = s.all.PushBack(p)
	if key != "" {
		if s.byKey == nil {
			s.byKey = make(map[string]*keyList)
		}
		kl := s.byKey[key]
		if kl == nil {
			kl = &keyList{subs: make(map[string]int)}
			s.byKey[key] = kl
		}
		p.inKey = kl.l.PushBack(p)
		kl.subs[sub]++
	}
	s.mu.Unlock()
	for _, d := range drop {
		d.cancel()
	}
	return p
}

// fattest returns the oldest pending handshake of the sub-key of kl that
// has the most.
func (kl *keyList) fattest() *Entry {
	most := 0
	for _, n := range kl.subs {
		most = max(most, n)
	}
	for e := kl.l.Front(); ; e = e.Next() {
		if p := e.Value.(*Entry); kl.subs[p.sub] == most {
			return p
		}
	}
}

// fattestKey returns the handshake to drop from all: of the key that has
// the most (the handshakes counted in all only count as one key; among
// equals, the key of the oldest handshake), the one its own cap would
// drop (see fattest). s.mu must be held and the set must not be empty.
func (s *Set) fattestKey() *Entry {
	most, loose := 0, 0
	for _, kl := range s.byKey {
		most = max(most, kl.l.Len())
	}
	for e := s.all.Front(); e != nil; e = e.Next() {
		if e.Value.(*Entry).key == "" {
			loose++
		}
	}
	most = max(most, loose)
	for e := s.all.Front(); ; e = e.Next() {
		p := e.Value.(*Entry)
		if p.key == "" && loose == most {
			return p
		}
		if kl := s.byKey[p.key]; p.key != "" && kl.l.Len() == most {
			return kl.fattest()
		}
	}
}

// unlink takes p out of the set. s.mu must be held.
func (s *Set) unlink(p *Entry) *Entry {
	s.all.Remove(p.inAll)
	p.inAll = nil
	if p.inKey != nil {
		kl := s.byKey[p.key]
		kl.l.Remove(p.inKey)
		if kl.subs[p.sub] <= 1 {
			delete(kl.subs, p.sub)
		} else {
			kl.subs[p.sub]--
		}
		if kl.l.Len() == 0 {
			delete(s.byKey, p.key)
		}
		p.inKey = nil
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
