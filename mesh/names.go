package mesh

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
)

// Node names: what a person calls a node. A secured node's name is the
// common name (CN) of its certificate, which its records carry and the
// mesh CA vouches for: a verified name. An insecure node's is what
// WithNodeName gave it, carried in its records and vouched for by nobody.
// Names are shown beside ids ("web (0a1b2c3d)", FormatNode) and resolve
// to ids (Resolve); an id stays the only thing that addresses a node.

var (
	// ErrNoSuchNode is Resolve's answer when no node and no service has
	// the name.
	ErrNoSuchNode = errors.New("mesh: no such node")
	// ErrAmbiguousName is Resolve's answer when a name is that of several
	// nodes, or a service several nodes offer; the error lists them.
	ErrAmbiguousName = errors.New("mesh: the name matches several nodes")
)

// FormatNode returns how a node is shown to a person: "name (id8)", the
// name and the first 8 hex digits of its id, or the 16 hex digits of the
// id when it has no name.
func FormatNode(id uint64, name string) string {
	if name == "" {
		return FormatID(id)
	}
	return name + " (" + FormatID(id)[:8] + ")"
}

// NodeName returns the name of node id as this node knows it (its own, or
// from the node's routing record, or from the certificate of a
// neighbour's link while its record has not arrived), and whether a
// certificate of the mesh CA vouches for it. It returns "" when the node
// is unknown or has no name.
func (n *Node) NodeName(id uint64) (name string, verified bool) { return n.c.nodeName(id) }

// Describe returns FormatNode of id with the name NodeName gives.
func (n *Node) Describe(id uint64) string {
	name, _ := n.c.nodeName(id)
	return FormatNode(id, name)
}

// Resolve returns the node a person means by target: 16 hex digits are a
// node id (returned as it is, known or not); else target is the name of
// a node this node knows (NodeName); else the name of a service of the
// node's env, offered by one node. A name that matches several nodes
// fails with ErrAmbiguousName, listing them; one that matches none, with
// ErrNoSuchNode.
func (n *Node) Resolve(target string) (uint64, error) {
	if base.IsID(target) {
		return ParseID(target)
	}
	if base.CheckNodeName(target) != nil && base.CheckName("service", target) != nil {
		return 0, fmt.Errorf("%w: %q is neither a node id (16 hex digits), a node name nor a service name", ErrBadAddress, target)
	}
	var ids []uint64
	for _, tn := range n.Topology().Nodes {
		if tn.Name == target {
			ids = append(ids, tn.ID)
		}
	}
	what := "node"
	if len(ids) == 0 {
		what = "service"
		for _, s := range n.Services() {
			if s.Name == target && !slices.Contains(ids, s.Host) {
				ids = append(ids, s.Host)
			}
		}
	}
	switch len(ids) {
	case 0:
		return 0, fmt.Errorf("%w: no node or service is named %q", ErrNoSuchNode, target)
	case 1:
		return ids[0], nil
	}
	slices.SortFunc(ids, cmpID)
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = n.Describe(id)
	}
	return 0, fmt.Errorf("%w: %d nodes have the %s name %q: %s", ErrAmbiguousName, len(ids), what, target, strings.Join(list, ", "))
}

// nodeName is NodeName.
func (c *core) nodeName(id uint64) (string, bool) {
	if id == c.id {
		return c.ownName()
	}
	c.rt.mu.Lock()
	var raw []byte
	if c.rt.r != nil {
		raw = c.rt.r.Held(id)
	}
	c.rt.mu.Unlock()
	if raw != nil {
		return c.recordName(raw)
	}
	if l := c.links.get(id); l != nil && len(l.cert.certs) > 0 {
		return c.names.ofCert(l.cert.certs[0]), true
	}
	return "", false
}

// ownName is the node's own name: its certificate's CN, or WithNodeName's.
func (c *core) ownName() (string, bool) {
	if c.ident != nil {
		return c.names.ofCert(c.ident.creds().leaf), true
	}
	return c.opts.nodeName, false
}

// recordName is the name a stored record gives its node: the CN of its
// certificate on a secured node (records are verified before they are
// stored), else the name it carries.
func (c *core) recordName(raw []byte) (string, bool) {
	rec, err := linkstate.DecodeRecord(raw, c.lim.MaxServices)
	if err != nil {
		return "", false
	}
	if c.ident == nil {
		return rec.Name, false
	}
	var leaf asn1.RawValue
	if _, err := asn1.Unmarshal(rec.Cert, &leaf); err != nil {
		return "", false
	}
	return c.names.ofDER(leaf.FullBytes), true
}

// nameCache keeps the names read from certificates, by the SHA-256 of the
// certificate, so that a status page that lists a thousand nodes every
// second does not parse a thousand certificates every second.
type nameCache struct {
	mu sync.Mutex
	m  map[[32]byte]string
}

// maxCachedNames bounds the cache; it is cleared when full.
const maxCachedNames = 4096

// ofCert returns the name of a certificate: its CN, lower-cased, if that
// is a valid node name, else "".
func (nc *nameCache) ofCert(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return nc.cached(c.Raw, func() string { return certName(c) })
}

// ofDER is ofCert of a certificate's DER.
func (nc *nameCache) ofDER(der []byte) string {
	return nc.cached(der, func() string {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return ""
		}
		return certName(c)
	})
}

func (nc *nameCache) cached(der []byte, name func() string) string {
	key := sha256.Sum256(der)
	nc.mu.Lock()
	s, ok := nc.m[key]
	nc.mu.Unlock()
	if ok {
		return s
	}
	s = name()
	nc.mu.Lock()
	if nc.m == nil || len(nc.m) >= maxCachedNames {
		nc.m = make(map[[32]byte]string)
	}
	nc.m[key] = s
	nc.mu.Unlock()
	return s
}

// certName is the node name a certificate gives: its CN, lower-cased, if
// that is a valid node name.
func certName(c *x509.Certificate) string {
	name := strings.ToLower(c.Subject.CommonName)
	if base.CheckNodeName(name) != nil {
		return ""
	}
	return name
}

// CheckNodeName reports whether name may be a node's name (WithNodeName,
// a certificate's CN): 1 to 63 of a-z, 0-9, '-' and '.', starting with a
// letter or a digit, and not 16 hex digits. Its errors are
// ErrBadAddress.
func CheckNodeName(name string) error { return base.CheckNodeName(name) }

// nodeRef is a node in a log line: slog asks it for its value, "name
// (id8)" (FormatNode), only when it writes the line, so that a line a
// handler drops costs no name lookup.
type nodeRef struct {
	c  *core
	id uint64
}

// LogValue is FormatNode of the node's id and name.
func (r nodeRef) LogValue() slog.Value {
	name, _ := r.c.nodeName(r.id)
	return slog.StringValue(FormatNode(r.id, name))
}

// who is node id as a log attribute's value (see nodeRef). The lookup
// takes the routing lock and the links' lock: a line that carries it must
// not be logged while either is held.
func (c *core) who(id uint64) slog.LogValuer { return nodeRef{c, id} }
