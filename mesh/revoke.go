package mesh

import (
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// Revocation: a list of revoked node ids, signed by a root CA of the mesh
// CA pool, that a secured node loads (WithRevocationList,
// SetRevocationList) or learns from a neighbour, and floods to its other
// neighbours like a record: the highest sequence number wins. The list
// names node ids, that is keys, so a renewed certificate for a revoked key
// stays revoked. A node that holds a list refuses links, records, services
// and circuits of the ids it names (see installRevocation).
//
// Encoding (all integers big-endian); in a file, the bytes are the body of
// a PEM block of type "PLEXUS REVOCATION LIST":
//
//	magic       4   "PXRL"
//	version     1   revocationVersion
//	sequence    8   not 0; a list replaces the one held only if its sequence is higher
//	issued      8   unix seconds: when the CA signed it
//	count       4   n, at most MaxRevokedIDs
//	ids         8n  strictly increasing, none 0
//	CA          2+… length (1 to base.MaxChainBytes), then the DER certificate of the signing CA
//	signature   2+… length (1 to maxRevocationSig), then the CA key's signature of every
//	                byte before this field, made as records' are (signBytes)

// MaxRevokedIDs is the largest number of node ids a revocation list may
// name (a limit of the protocol: a list with more is malformed, and
// SignRevocationList refuses to make one).
const MaxRevokedIDs = 8192

const (
	revocationPEMType = "PLEXUS REVOCATION LIST"
	revocationVersion = 1
	// revocationHeaderLen is the fixed part before the ids: magic,
	// version, sequence, issued, count.
	revocationHeaderLen = 4 + 1 + 8 + 8 + 4
	offRevocationSeq    = 5
	// maxRevocationSig bounds a signature: RSA of 8,192 bits.
	maxRevocationSig = 1024
	// maxRevocationLen is the longest list: the largest control message
	// of its type that a node reads.
	maxRevocationLen = revocationHeaderLen + 8*MaxRevokedIDs + 2 + base.MaxChainBytes + 2 + maxRevocationSig
)

var revocationMagic = [4]byte{'P', 'X', 'R', 'L'}

// revList is a decoded revocation list; never modified once decoded.
type revList struct {
	seq       uint64
	issued    int64    // unix seconds
	ids       []uint64 // sorted, distinct, none 0
	ca        []byte   // the signing CA's certificate, DER (a slice of raw)
	sig       []byte   // a slice of raw
	signedLen int      // the bytes of raw the signature covers
	raw       []byte   // the encoded list, as it floods
}

// has reports whether the list revokes id.
func (l *revList) has(id uint64) bool {
	_, ok := slices.BinarySearch(l.ids, id)
	return ok
}

// inPath returns the first id of path other than self that the list
// revokes.
func (l *revList) inPath(path []uint64, self uint64) (uint64, bool) {
	for _, id := range path {
		if id != self && l.has(id) {
			return id, true
		}
	}
	return 0, false
}

// appendRevocationBody encodes a list up to, not including, the signature
// field: the bytes the signature covers. ids must be sorted and distinct.
func appendRevocationBody(b []byte, seq uint64, issued int64, ids []uint64, caDER []byte) []byte {
	b = append(b, revocationMagic[:]...)
	b = append(b, revocationVersion)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(issued))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(caDER)))
	return append(b, caDER...)
}

// peekRevocationSeq reads the sequence number of an encoded list without
// decoding it, so that a list not newer than the one held costs nothing.
func peekRevocationSeq(b []byte) (uint64, bool) {
	if len(b) < revocationHeaderLen || string(b[:4]) != string(revocationMagic[:]) || b[4] != revocationVersion {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[offRevocationSeq:]), true
}

// decodeRevocation parses an encoded list, checking its structure and its
// caps before it allocates anything: at most MaxRevokedIDs ids, strictly
// increasing and not 0, a CA certificate and a signature within their
// caps, nothing after the signature. It checks no signature. The result
// keeps b.
func decodeRevocation(b []byte) (*revList, error) {
	d := base.NewDecoder(b)
	if m := d.Bytes(4); !d.OK() || string(m) != string(revocationMagic[:]) {
		return nil, fmt.Errorf("%w: not a revocation list", ErrBadRecord)
	}
	if v := d.U8(); v != revocationVersion {
		return nil, fmt.Errorf("%w: revocation list version %d (we speak %d)", ErrBadRecord, v, revocationVersion)
	}
	l := &revList{raw: b}
	l.seq = d.U64()
	l.issued = int64(d.U64())
	n := d.U32()
	switch {
	case !d.OK():
		return nil, fmt.Errorf("%w: revocation list of %d bytes is too short", ErrBadRecord, len(b))
	case l.seq == 0:
		return nil, fmt.Errorf("%w: revocation list with sequence number 0", ErrBadRecord)
	case n > MaxRevokedIDs:
		return nil, fmt.Errorf("%w: revocation list %d names %d ids (at most MaxRevokedIDs, %d)", ErrBadRecord, l.seq, n, MaxRevokedIDs)
	case int(n) > d.Left()/8:
		return nil, fmt.Errorf("%w: revocation list %d: %d ids in %d bytes", ErrBadRecord, l.seq, n, len(b))
	}
	if n > 0 {
		l.ids = make([]uint64, n)
	}
	for i := range l.ids {
		l.ids[i] = d.U64()
		if l.ids[i] == 0 || i > 0 && l.ids[i] <= l.ids[i-1] {
			return nil, fmt.Errorf("%w: revocation list %d: the ids are not strictly increasing non-zero ids", ErrBadRecord, l.seq)
		}
	}
	l.ca = d.Bytes(int(d.U16()))
	l.signedLen = d.Offset()
	l.sig = d.Bytes(int(d.U16()))
	switch {
	case !d.OK():
		return nil, fmt.Errorf("%w: revocation list %d is truncated", ErrBadRecord, l.seq)
	case d.Left() != 0:
		return nil, fmt.Errorf("%w: revocation list %d: %d bytes after the signature", ErrBadRecord, l.seq, d.Left())
	case len(l.ca) == 0 || len(l.ca) > base.MaxChainBytes:
		return nil, fmt.Errorf("%w: revocation list %d: a CA certificate of %d bytes (1 to %d)", ErrBadRecord, l.seq, len(l.ca), base.MaxChainBytes)
	case len(l.sig) == 0 || len(l.sig) > maxRevocationSig:
		return nil, fmt.Errorf("%w: revocation list %d: a signature of %d bytes (1 to %d)", ErrBadRecord, l.seq, len(l.sig), maxRevocationSig)
	}
	return l, nil
}

// verify checks that the list is signed by a root CA of pool: the CA
// certificate it carries must be one of the pool's roots itself (x509
// finds it in the pool, a chain of one, with no signature check; a
// certificate that is not may cost one check with the key of a pool CA of
// its issuer's name), be a CA that may sign certificates, and be valid at
// now; then its key's signature is checked, once, counted in checks.
func (l *revList) verify(pool *x509.CertPool, now time.Time, checks *atomic.Uint64) error {
	ca, err := x509.ParseCertificate(l.ca)
	if err != nil {
		return fmt.Errorf("%w: revocation list %d: its CA certificate: %v", ErrNotAuthorized, l.seq, err)
	}
	if err := CheckCA(ca); err != nil {
		return fmt.Errorf("%w: revocation list %d is signed by %q, which is not a CA: %v", ErrNotAuthorized, l.seq, ca.Subject.CommonName, err)
	}
	chains, err := ca.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%w: revocation list %d is signed by %q, not by a CA of the mesh pool: %v", ErrNotAuthorized, l.seq, ca.Subject.CommonName, err)
	}
	if !slices.ContainsFunc(chains, func(c []*x509.Certificate) bool { return len(c) == 1 }) {
		return fmt.Errorf("%w: revocation list %d is signed by %q, an intermediate CA: only a root CA of the mesh pool signs revocation lists", ErrNotAuthorized, l.seq, ca.Subject.CommonName)
	}
	checks.Add(1)
	if !verifySig(ca.PublicKey, l.raw[:l.signedLen], l.sig) {
		return fmt.Errorf("%w: revocation list %d: bad signature", ErrNotAuthorized, l.seq)
	}
	return nil
}

// revocationFromPEM returns the encoded list in the first PEM block of
// type "PLEXUS REVOCATION LIST" in b.
func revocationFromPEM(b []byte) ([]byte, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		switch {
		case block == nil:
			return nil, fmt.Errorf("%w: no PEM block %q", ErrBadRecord, revocationPEMType)
		case block.Type != revocationPEMType:
			continue
		case len(block.Bytes) > maxRevocationLen:
			return nil, fmt.Errorf("%w: a revocation list of %d bytes (at most %d)", ErrBadRecord, len(block.Bytes), maxRevocationLen)
		}
		return block.Bytes, nil
	}
}

// RevocationList is a list of revoked node ids signed by a mesh CA, as
// ParseRevocationList reads it and SignRevocationList makes it. A secured
// node that holds one (WithRevocationList, Node.SetRevocationList, or
// from a neighbour) refuses links, records, services and circuits of the
// ids it names, and floods it to its neighbours; a list replaces the one
// a node holds only if its Seq is higher. See docs/mesh.md, Security.
type RevocationList struct {
	// Seq is the sequence number, not 0: a higher one wins.
	Seq uint64
	// Issued is when the list was signed, to the second.
	Issued time.Time
	// IDs are the revoked node ids, sorted. A node id derives from a
	// certificate's key (IDFromCert), so every certificate for that key
	// is revoked, renewed ones included.
	IDs []uint64
	// CA is, in a parsed list, the certificate it carries of the CA that
	// signed it (ParseRevocationList does not check the signature: a node
	// does, against its mesh CA pool). SignRevocationList ignores it.
	CA *x509.Certificate
}

// ParseRevocationList reads a revocation list from its PEM form (the
// first block of type "PLEXUS REVOCATION LIST" in b). It checks the
// list's structure and caps, not its signature; a malformed list is an
// error for which errors.Is(err, ErrBadRecord) holds.
func ParseRevocationList(b []byte) (*RevocationList, error) {
	raw, err := revocationFromPEM(b)
	if err != nil {
		return nil, err
	}
	l, err := decodeRevocation(raw)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(l.ca)
	if err != nil {
		return nil, fmt.Errorf("%w: revocation list %d: its CA certificate: %v", ErrBadRecord, l.seq, err)
	}
	return &RevocationList{Seq: l.seq, Issued: time.Unix(l.issued, 0), IDs: l.ids, CA: ca}, nil
}

// SignRevocationList encodes l (its IDs sorted and deduplicated, at most
// MaxRevokedIDs, none 0; Issued, if zero, is now) and signs it with the
// key of ca, a root CA of the mesh, and returns its PEM form, which
// WithRevocationList, Node.SetRevocationList and ParseRevocationList
// read. Nodes accept it if ca is in their mesh CA pool (RootCAs).
func SignRevocationList(l *RevocationList, ca *x509.Certificate, key crypto.Signer) ([]byte, error) {
	switch {
	case l == nil || ca == nil || key == nil:
		return nil, errors.New("mesh: SignRevocationList: a list, a CA certificate and its key are needed")
	case l.Seq == 0:
		return nil, errors.New("mesh: SignRevocationList: the sequence number must not be 0")
	case len(ca.Raw) > base.MaxChainBytes:
		return nil, fmt.Errorf("mesh: SignRevocationList: the CA certificate has %d bytes (at most %d)", len(ca.Raw), base.MaxChainBytes)
	}
	if err := CheckCA(ca); err != nil {
		return nil, fmt.Errorf("mesh: SignRevocationList: %q is not a CA certificate: %v", ca.Subject.CommonName, err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.PublicKey) {
		return nil, fmt.Errorf("mesh: SignRevocationList: the key is not the key of %q", ca.Subject.CommonName)
	}
	ids := slices.Clone(l.IDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] == 0 {
		return nil, fmt.Errorf("%w: SignRevocationList: node id 0", ErrBadAddress)
	}
	if len(ids) > MaxRevokedIDs {
		return nil, fmt.Errorf("mesh: SignRevocationList: %d ids, at most MaxRevokedIDs (%d)", len(ids), MaxRevokedIDs)
	}
	issued := l.Issued
	if issued.IsZero() {
		issued = time.Now()
	}
	b := appendRevocationBody(make([]byte, 0, revocationHeaderLen+8*len(ids)+4+len(ca.Raw)+maxRevocationSig), l.Seq, issued.Unix(), ids, ca.Raw)
	sig, err := signBytes(key, b)
	if err != nil {
		return nil, fmt.Errorf("mesh: SignRevocationList: signing: %w", err)
	}
	if len(sig) > maxRevocationSig {
		return nil, fmt.Errorf("mesh: SignRevocationList: a signature of %d bytes (at most %d)", len(sig), maxRevocationSig)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sig)))
	b = append(b, sig...)
	return pem.EncodeToMemory(&pem.Block{Type: revocationPEMType, Bytes: b}), nil
}

// revocation is a node's revocation state: the list it holds, and what
// lists cost it.
type revocation struct {
	mu  sync.Mutex // serializes installs
	cur atomic.Pointer[revList]

	refused atomic.Uint64 // lists refused: malformed, or not signed by a root CA of the pool
	stale   atomic.Uint64 // lists not newer than the one held, dropped before any check
	checks  atomic.Uint64 // signatures checked (for tests: a replay costs none)
}

// has reports whether the list held revokes id.
func (r *revocation) has(id uint64) bool {
	l := r.cur.Load()
	return l != nil && l.has(id)
}

// inPath returns the first id of path other than self that the list held
// revokes.
func (r *revocation) inPath(path []uint64, self uint64) (uint64, bool) {
	if l := r.cur.Load(); l != nil {
		return l.inPath(path, self)
	}
	return 0, false
}

// revokedPath refuses a circuit whose path names an id revoked by the
// list held (this node excepted, which logs that it is revoked and keeps
// running).
func (c *core) revokedPath(path []uint64) error {
	if id, ok := c.revoke.inPath(path, c.id); ok {
		return &base.RevokedError{ID: id}
	}
	return nil
}

// RevocationInfo describes the revocation list a node holds and what the
// lists it was offered cost it (Node.Info).
type RevocationInfo struct {
	Seq    uint64    // the sequence number of the list held; 0: none
	Issued time.Time // when the list held was signed; zero: none
	Count  int       // node ids it revokes
	Self   bool      // it revokes this node (which keeps running, but its neighbours cut it off)
	// Refused counts the lists refused since the node started: malformed,
	// or not signed by a root CA of the mesh pool; each cost at most one
	// signature check.
	Refused uint64
	// Stale counts the lists not newer than the one held (copies of a
	// flood, replays), dropped before any check.
	Stale uint64
}

// info describes the revocation state.
func (r *revocation) info(self uint64) RevocationInfo {
	ri := RevocationInfo{Refused: r.refused.Load(), Stale: r.stale.Load()}
	if l := r.cur.Load(); l != nil {
		ri.Seq, ri.Issued, ri.Count, ri.Self = l.seq, time.Unix(l.issued, 0), len(l.ids), l.has(self)
	}
	return ri
}

// WithRevocationList gives a secured node a revocation list to hold from
// the start, in the PEM form of SignRevocationList (plexus cert revoke
// writes it): New fails if the list is malformed, or not signed by a root
// CA of the WithTLS config's pool, or if the node is not secured (an
// insecure node neither accepts nor floods revocation lists). The node
// floods it to every neighbour and takes a newer one from any (see
// Node.SetRevocationList).
func WithRevocationList(pemBytes []byte) Option {
	return func(o *options) { o.revocation = pemBytes }
}

// loadRevocation installs the list of WithRevocationList, if any, in a
// node being made.
func (c *core) loadRevocation(pemBytes []byte) error {
	if pemBytes == nil {
		return nil
	}
	if c.ident == nil {
		return errors.New("mesh: WithRevocationList needs WithTLS: an insecure node neither accepts nor floods revocation lists")
	}
	raw, err := revocationFromPEM(pemBytes)
	if err != nil {
		return err
	}
	return c.offerRevocation(raw, nil)
}

// SetRevocationList installs a newer revocation list, in the PEM form of
// SignRevocationList, on a running secured node (say, on SIGHUP once a
// new file is in place). It fails, and changes nothing, if the list is
// malformed (errors.Is(err, ErrBadRecord)), if its sequence number is not
// higher than that of the list held (ErrStaleRecord: the same list again,
// or an older one), or if it is not signed by a root CA of the node's mesh
// CA pool (ErrNotAuthorized); or if the node is not secured.
//
// Once it returns, the node holds the list and has queued it to every
// neighbour, which floods it on; links to the ids it revokes are closed,
// and new ones refused at the handshake; their records, and so their
// services and every route through them, are dropped, and new ones
// refused; circuits that end here with one of them on their path are
// closed, circuits relayed here from or to one of them reset, and setups
// naming one refused. If it revokes this node, the node logs that at
// ERROR and keeps running: the neighbours that learn the list cut it off.
func (n *Node) SetRevocationList(pemBytes []byte) error {
	c := n.c
	if c.ident == nil {
		return errors.New("mesh: SetRevocationList: the node is not secured (WithTLS): an insecure node neither accepts nor floods revocation lists")
	}
	if c.isClosed() {
		return ErrClosed
	}
	raw, err := revocationFromPEM(pemBytes)
	if err != nil {
		return err
	}
	return c.offerRevocation(raw, nil)
}

// Revocation lists read from one link that may be newer than the one held
// (see readRecords): at most listRate a second after a burst of listBurst.
const (
	listRate  = 1
	listBurst = 4
)

// newer reports whether raw, an encoded list, may be newer than the one
// held: it is malformed, or its sequence number is higher.
func (r *revocation) newer(raw []byte) bool {
	seq, ok := peekRevocationSeq(raw)
	held := r.cur.Load()
	return !ok || held == nil || seq > held.seq
}

// receiveRevocation takes a list that the neighbour of link l sent.
func (c *core) receiveRevocation(l *link, raw []byte) {
	if c.ident == nil {
		c.logf(slog.LevelDebug, "mesh: revocation list ignored: this node is not secured", "from", c.who(l.peer))
		return
	}
	switch err := c.offerRevocation(raw, l); {
	case errors.Is(err, ErrStaleRecord):
	case err != nil:
		c.logf(slog.LevelWarn, "mesh: revocation list refused", "from", c.who(l.peer), "err", err)
	}
}

// offerRevocation takes raw, an encoded list from the link from (nil: from
// this node's owner), if it is newer than the one held and signed by a
// root CA of the pool. The sequence number is compared first, so a list
// that is not newer (a flood's copies, a replay) costs no decoding and no
// signature check; an older one is answered with the one held.
func (c *core) offerRevocation(raw []byte, from *link) error {
	r := &c.revoke
	if seq, ok := peekRevocationSeq(raw); ok {
		if held := r.cur.Load(); held != nil && seq <= held.seq {
			r.stale.Add(1)
			if from != nil && seq < held.seq {
				from.out.putList(held.raw)
			}
			return fmt.Errorf("%w: revocation list %d, this node holds %d", ErrStaleRecord, seq, held.seq)
		}
	}
	l, err := decodeRevocation(raw)
	if err == nil {
		err = l.verify(c.ident.creds().pool, time.Now(), &r.checks)
	}
	if err != nil {
		r.refused.Add(1)
		return err
	}
	var peer uint64
	if from != nil {
		peer = from.peer
	}
	return c.installRevocation(l, peer)
}

// installRevocation makes l, a verified list, the one held, unless a list
// as new was installed meanwhile, and applies it: the router drops the
// revoked ids' records and links (so routes and services never lead to
// them), the list is queued to every neighbour but from (the one it came
// from) and the revoked ones, and the links to revoked ids, the circuits
// ending here with a revoked id on their path and those relayed here from
// or to one are closed. Links registered and circuits served after the
// list is stored check it themselves (linkTable.register,
// serveCircuit), so none slips through.
func (c *core) installRevocation(l *revList, from uint64) error {
	r := &c.revoke
	r.mu.Lock()
	if held := r.cur.Load(); held != nil && l.seq <= held.seq {
		r.mu.Unlock()
		r.stale.Add(1)
		return fmt.Errorf("%w: revocation list %d, this node holds %d", ErrStaleRecord, l.seq, held.seq)
	}
	r.cur.Store(l)
	c.routeDo(func(rt *linkstate.Router, now time.Time) []linkstate.OutMsg { return rt.Revoke(l.ids, now) })
	var ends []*mux.Session
	c.links.each(func(lk *link) {
		switch {
		case l.has(lk.peer):
			ends = append(ends, lk.sess)
			c.logf(slog.LevelWarn, "mesh: link closed: the peer is revoked", "peer", FormatID(lk.peer), "list", l.seq)
		case lk.peer != from:
			lk.out.putList(l.raw)
		}
	})
	r.mu.Unlock()
	var src any = "local"
	if from != 0 {
		src = c.who(from)
	}
	c.logf(slog.LevelInfo, "mesh: revocation list installed", "seq", l.seq, "ids", len(l.ids), "from", src)
	if l.has(c.id) {
		c.logf(slog.LevelError, "mesh: this node is revoked by the revocation list: the nodes that hold it refuse its links, records and circuits", "seq", l.seq)
	}

	t := &c.circuits
	t.mu.Lock()
	for ci := range t.all {
		if id, ok := l.inPath(ci.currentPath(), c.id); ok {
			ends = append(ends, ci.sess)
			c.logf(slog.LevelWarn, "mesh: circuit closed: a node on its path is revoked", "path", wire.FormatPath(ci.currentPath()), "revoked", c.who(id))
		}
	}
	t.mu.Unlock()
	var reset []*mux.Stream
	rt := &c.relays
	rt.mu.Lock()
	for rc := rt.live; rc != nil; rc = rc.older {
		if l.has(rc.src) || l.has(rc.dst) {
			reset = append(reset, rc.st)
		}
	}
	rt.mu.Unlock()
	for _, st := range reset { // the splice passes the reset on
		st.Reset(mux.CodeCancel)
	}
	closeAll(ends)
	return nil
}

// putList queues raw, an encoded revocation list, to be sent before any
// record, unless a newer list is queued: a link's queue holds at most one
// list, the newest. A peer that does not take lists (see takesLists) is
// sent none.
func (q *recordQueue) putList(raw []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !q.lists {
		return
	}
	if q.list != nil {
		old, _ := peekRevocationSeq(q.list)
		if seq, _ := peekRevocationSeq(raw); seq <= old {
			return
		}
	}
	q.list = raw
	select {
	case q.kick <- struct{}{}:
	default:
	}
}
