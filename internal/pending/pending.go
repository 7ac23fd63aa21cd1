// Package pending bounds the handshakes a server runs for peers it has not
// authenticated yet, without ever making a newcomer wait: the SP
// listener's handshakes (transport/spstream), and a mesh node's links
// accepted from a listener, circuits ending there before their end-to-end
// TLS and circuit setups being forwarded.
package pending

import (
	"container/list"
	"net"
	"sync"
)

// Set holds pending handshakes, oldest first, in all and per key (a
// source address, a neighbour). Admitting one past a cap first drops the
// oldest pending one it counts against (its cancel is called). So silent
// or slow peers only ever cut each other short, and a peer that completes
// its handshake at once gets in unless more than the cap arrive from its
// key meanwhile. Set the caps before the first Admit.
type Set struct {
	MaxAll    int // 0: no cap in all
	MaxPerKey int // 0: no cap per key

	mu    sync.Mutex
	all   list.List // of *Entry
	byKey map[string]*list.List
}

// Entry is one handshake of a Set.
type Entry struct {
	key    string // "": counted in all only
	cancel func()
	inAll  *list.Element // nil once it left the set (done or dropped)
	inKey  *list.Element
}

// Admit records a pending handshake of key ("": counted in all only),
// dropping the oldest of its key, and then the oldest of all, when a cap
// is reached. cancel ends the handshake when it is dropped; it is called
// without the set's lock.
func (s *Set) Admit(key string, cancel func()) *Entry {
	p := &Entry{key: key, cancel: cancel}
	var drop []*Entry
	s.mu.Lock()
	if key != "" && s.MaxPerKey > 0 {
		if kl := s.byKey[key]; kl != nil && kl.Len() >= s.MaxPerKey {
			drop = append(drop, s.unlink(kl.Front().Value.(*Entry)))
		}
	}
	if s.MaxAll > 0 && s.all.Len() >= s.MaxAll {
		drop = append(drop, s.unlink(s.all.Front().Value.(*Entry)))
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
func (s *Set) unlink(p *Entry) *Entry {
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
		return kl.Len()
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
