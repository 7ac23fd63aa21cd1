package mesh

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
)

// ReloadTLS replaces the certificate of a secured node (cert, with its
// private key and any intermediates after the leaf, as in WithTLS) and,
// unless roots is nil, the mesh CA pool. It is meant for certificate
// renewal and CA rotation, say on SIGHUP once new files are in place.
//
// The node's id derives from its certificate's public key, so the new
// certificate must be for the same key: one for another key fails with an
// error for which errors.Is(err, ErrIDMismatch) holds, and changes
// nothing (a node with a new key is a new node: start one). The new
// certificate must chain to the (new) pool and follow the rules of
// WithTLS, or ReloadTLS fails and changes nothing.
//
// Once it returns, new links and circuits use the new certificate and
// pool, and the node floods a new record that carries the new certificate.
// Links and circuits up already stay up, with the certificates they were
// made with, except those whose peer's certificate the new pool no longer
// accepts, which are closed at once (a Join redials). Every link and
// circuit ends anyway when its peer's certificate expires.
func (n *Node) ReloadTLS(cert tls.Certificate, roots *x509.CertPool) error {
	c := n.c
	if c.ident == nil {
		return errors.New("mesh: ReloadTLS: the node is not secured (WithTLS)")
	}
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	if c.isClosed() {
		return ErrClosed
	}
	if roots == nil {
		roots = c.ident.creds().pool
	}
	cr, err := c.ident.newCreds(cert, roots)
	if err != nil {
		return fmt.Errorf("mesh: ReloadTLS: %w", err)
	}
	if id := IDFromCert(cr.leaf); id != c.id {
		return fmt.Errorf("%w: ReloadTLS: the new certificate's key proves node %s, but this node is %s: a node keeps its key, from which its id derives (start a new node for a new key)", ErrIDMismatch, FormatID(id), FormatID(c.id))
	}
	if err := c.credsFit(cr); err != nil {
		return fmt.Errorf("mesh: ReloadTLS: %w", err)
	}
	c.ident.cur.Store(cr)
	c.ident.forget()
	c.logf(slog.LevelInfo, "mesh: TLS credentials reloaded", "notAfter", cr.leaf.NotAfter)

	// Our record carries our certificate: originate one with the new one.
	c.routeDo(func(r *linkstate.Router, now time.Time) []linkstate.OutMsg { return r.Reoriginate(now) })

	// Links and circuits whose peer the new pool no longer accepts end.
	now := time.Now()
	var links []*link
	c.links.each(func(l *link) { links = append(links, l) })
	for _, l := range links {
		if err := c.ident.stillValid(&l.cert, now); err != nil {
			c.logf(slog.LevelWarn, "mesh: link closed: the peer's certificate is no longer accepted", "peer", c.who(l.peer), "err", err)
			l.sess.Close()
		}
	}
	t := &c.circuits
	t.mu.Lock()
	circuits := make([]*circuit, 0, len(t.all))
	for ci := range t.all {
		circuits = append(circuits, ci)
	}
	t.mu.Unlock()
	for _, ci := range circuits {
		if err := c.ident.stillValid(&ci.cert, now); err != nil {
			c.logf(slog.LevelWarn, "mesh: circuit closed: the far host's certificate is no longer accepted", "host", c.who(ci.host), "err", err)
			ci.sess.Close()
		}
	}
	return nil
}
