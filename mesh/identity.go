package mesh

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/plexusnet/plexus/internal/fastio"
	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mux"
)

// identity is what a secured node knows and proves: its credentials (its
// certificate and key, and the mesh CA pool), which ReloadTLS may replace,
// and the id derived from the certificate's key, which never changes.
type identity struct {
	id   uint64
	base *tls.Config // the user's config, cloned
	cur  atomic.Pointer[creds]

	mu    sync.Mutex
	known map[[32]byte]*verified // chains already verified, by chainKey

	verifies atomic.Uint64 // x509 verifications run (for tests: the cache and the caps work)
}

// creds are a secured node's credentials at one time; never modified.
type creds struct {
	cert   tls.Certificate
	leaf   *x509.Certificate
	chain  []byte // the certificate chain as records carry it: the leaf's DER, then the intermediates'
	sigMax int    // an upper bound of the length of our signatures
	pool   *x509.CertPool
	signer crypto.Signer
	own    *verified // what our chain proves, as verifyChain finds it
	ownKey [32]byte  // its chainKey
}

// verified is what a certificate chain proved once verified: the node id,
// the leaf's key, until when (the earliest NotAfter of the chain), and the
// chain as verified (leaf first, the mesh CA last), against the
// credentials by; and what the leaf grants under certificate policy.
type verified struct {
	id       uint64
	pub      crypto.PublicKey
	notAfter time.Time
	chain    []*x509.Certificate
	by       *creds
	grants   *Grants
}

// maxKnownCerts bounds the cache of verified chains.
const maxKnownCerts = 4096

// maxHandshakeRead caps what a TLS handshake reads from the peer, so that
// crypto/tls never even parses a stuffed certificate message (it takes up
// to 256 KiB): a chain at the caps (base.MaxChainCerts, MaxChainBytes),
// the hellos (with post-quantum key shares), a signature of the largest
// RSA key TLS allows, and the records' overhead fit well within it.
const maxHandshakeRead = base.MaxChainBytes + 8<<10

// CheckCA reports whether c may sign the certificates of a mesh: by the
// rule crypto/x509 applies to every issuer of a chain a node verifies
// (RFC 5280, 4.2.1.3 and 4.2.1.9), c has the basic constraints extension
// with CA:TRUE, and its key usage, if it has that extension at all,
// includes certificate signing. A CA without a key usage extension, as
// openssl req -x509 makes, is one. It does not check c's signature or
// validity period. Its error says what c lacks, for a caller to wrap.
func CheckCA(c *x509.Certificate) error {
	switch {
	case c == nil:
		return errors.New("no certificate")
	case !c.BasicConstraintsValid:
		return errors.New("no basic constraints extension with CA:TRUE")
	case !c.IsCA:
		return errors.New("basic constraints CA:FALSE")
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
		return errors.New("a key usage extension without certificate signing (keyCertSign)")
	}
	return nil
}

// IDFromCert returns the node id a certificate proves: the first 8 bytes
// of the SHA-256 of its SubjectPublicKeyInfo, read big-endian.
func IDFromCert(c *x509.Certificate) uint64 {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return binary.BigEndian.Uint64(sum[:8])
}

// newIdentity checks a WithTLS config: it must carry a certificate with a
// signing key, a CA pool, and allow TLS 1.3; the certificate must chain to
// the pool.
func newIdentity(cfg *tls.Config) (*identity, error) {
	if len(cfg.Certificates) == 0 {
		return nil, errors.New("mesh: WithTLS: the config has no certificate (Certificates[0])")
	}
	pool := cfg.RootCAs
	if pool == nil {
		pool = cfg.ClientCAs
	}
	if pool == nil {
		return nil, errors.New("mesh: WithTLS: the config has no mesh CA pool (RootCAs or ClientCAs)")
	}
	if cfg.MaxVersion != 0 && cfg.MaxVersion < tls.VersionTLS13 {
		return nil, errors.New("mesh: WithTLS: the config's MaxVersion is below TLS 1.3, which the mesh requires")
	}
	id := &identity{base: cfg.Clone(), known: make(map[[32]byte]*verified)}
	cr, err := id.newCreds(cfg.Certificates[0], pool)
	if err != nil {
		return nil, fmt.Errorf("mesh: WithTLS: %w", err)
	}
	id.id = IDFromCert(cr.leaf)
	id.cur.Store(cr)
	return id, nil
}

// newCreds checks a certificate (with its key and any intermediates) and a
// CA pool: the key signs, the chain is within the caps that every node
// applies to the chains of its peers, and the certificate chains to the
// pool and may serve as a node's (see verifyChain).
func (i *identity) newCreds(cert tls.Certificate, pool *x509.CertPool) (*creds, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("the certificate is empty")
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("the certificate's private key cannot sign")
	}
	cr := &creds{cert: cert, pool: pool, signer: signer}
	for _, der := range cert.Certificate {
		cr.chain = append(cr.chain, der...)
	}
	if len(cert.Certificate) > base.MaxChainCerts || len(cr.chain) > base.MaxChainBytes {
		return nil, fmt.Errorf("%w: ours has %d certificates and %d bytes; give the leaf and at most %d intermediates, without the mesh CA", base.ErrChainCaps, len(cert.Certificate), len(cr.chain), base.MaxChainCerts-1)
	}
	certs, err := x509.ParseCertificates(cr.chain)
	if err != nil {
		return nil, fmt.Errorf("parsing our certificate: %w", err)
	}
	cr.leaf = certs[0]
	if cr.own, err = i.verifyFresh(pool, certs, time.Now()); err != nil {
		return nil, fmt.Errorf("our own certificate: %w", err)
	}
	cr.own.by, cr.ownKey = cr, chainKey(certs)
	sig, err := cr.sign([]byte("mesh: the length of a signature"))
	if err != nil {
		return nil, fmt.Errorf("the certificate's key cannot sign: %w", err)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cr.leaf.PublicKey) {
		return nil, errors.New("the private key is not the certificate's")
	}
	cr.sigMax = len(sig) + 16 // ECDSA's ASN.1 signatures vary by a few bytes
	return cr, nil
}

// creds returns the node's current credentials.
func (i *identity) creds() *creds { return i.cur.Load() }

// leaf returns our certificate, parsed.
func (i *identity) leaf() *x509.Certificate { return i.creds().leaf }

// checkCaps refuses a chain of n certificates and size bytes over the caps.
func checkCaps(n, size int) error {
	if n == 0 {
		return fmt.Errorf("%w: no certificate", ErrNotAuthorized)
	}
	if n > base.MaxChainCerts || size > base.MaxChainBytes {
		return fmt.Errorf("%w: %d certificates, %d bytes", base.ErrChainCaps, n, size)
	}
	return nil
}

// chainKey is the key of a chain in the cache: the SHA-256 of the leaf's
// DER and of its issuer's, the first intermediate (if any). A chain whose
// leaf and issuer were verified together needs no more checks.
func chainKey(certs []*x509.Certificate) [32]byte {
	h := sha256.New()
	h.Write(certs[0].Raw)
	if len(certs) > 1 {
		h.Write(certs[1].Raw)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verifyChain checks a chain a peer presents (the leaf first, then its
// intermediates, each the issuer of the one before) against the
// credentials cr, from the cache when it was verified before: at most
// one verification per distinct chain. The caps are checked first.
func (i *identity) verifyChain(cr *creds, certs []*x509.Certificate, now time.Time) (*verified, error) {
	size := 0
	for _, c := range certs {
		size += len(c.Raw)
	}
	if err := checkCaps(len(certs), size); err != nil {
		return nil, err
	}
	key := chainKey(certs)
	if key == cr.ownKey && now.Before(cr.own.notAfter) { // our record, back from a neighbour
		return cr.own, nil
	}
	i.mu.Lock()
	v, ok := i.known[key]
	i.mu.Unlock()
	if ok && v.by == cr && now.Before(v.notAfter) {
		return v, nil
	}
	v, err := i.verifyFresh(cr.pool, certs, now)
	if err != nil {
		return nil, err
	}
	v.by = cr
	i.mu.Lock()
	if len(i.known) >= maxKnownCerts {
		clear(i.known)
	}
	i.known[key] = v
	i.mu.Unlock()
	return v, nil
}

// verifyFresh verifies a chain within the caps against pool, the mesh CA,
// and checks that its leaf may serve as a node's certificate.
//
// The intermediates are checked from the top down before x509 builds any
// path: the last one must be signed by a certificate of the pool, and each
// one below by the one above it, already proved. So every signature
// checked is made with a key the mesh CA vouched for, never with a key of
// the peer's choosing (a fake CA of the mesh CA's name with a slow key),
// and what a chain that is refused costs is one check per CA of the pool
// that bears its issuer's name.
//
// A node is both a TLS server and a TLS client, on links and on circuits,
// and signs its records, so the rule, the same for our own certificate
// (New), for both ends of every link and circuit, and for the certificate
// of every record, is: the key usage, if the certificate has one, includes
// digital signature, and the extended key usages of the chain allow both
// server auth and client auth (a certificate that lists none, or
// anyExtendedKeyUsage, allows both; a CA's list constrains what it
// issues, as crypto/x509 checks).
func (i *identity) verifyFresh(pool *x509.CertPool, certs []*x509.Certificate, now time.Time) (*verified, error) {
	leaf := certs[0]
	id := IDFromCert(leaf)
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: certificate of %s: its key usage lacks digital signature, which a node needs", ErrNotAuthorized, FormatID(id))
	}
	notFrom := func(err error) error {
		return fmt.Errorf("%w: certificate of %s is not from the mesh CA: %v", ErrNotAuthorized, FormatID(id), err)
	}
	for j := 1; j < len(certs); j++ {
		if string(certs[j-1].RawIssuer) != string(certs[j].RawSubject) {
			return nil, notFrom(fmt.Errorf("certificate %d of the chain is not the issuer of the one before (give the leaf, then its issuer, and so on)", j+1))
		}
	}
	opts := x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if top := len(certs) - 1; top > 0 {
		i.verifies.Add(1)
		if _, err := certs[top].Verify(opts); err != nil {
			return nil, notFrom(err)
		}
		for j := top - 1; j > 0; j-- {
			if err := certs[j].CheckSignatureFrom(certs[j+1]); err != nil {
				return nil, notFrom(err)
			}
		}
		opts.Intermediates = x509.NewCertPool()
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	i.verifies.Add(1)
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, notFrom(err)
	}
	for _, chain := range chains {
		if nodeUsages(chain) == nil {
			return &verified{id: id, pub: leaf.PublicKey, notAfter: chainNotAfter(chain), chain: chain, grants: grantsOf(leaf)}, nil
		}
	}
	return nil, fmt.Errorf("%w: certificate of %s %v, which a node needs (extended key usages serverAuth and clientAuth, or none)", ErrNotAuthorized, FormatID(id), nodeUsages(chains[0]))
}

// nodeUsages checks that the extended key usages of a chain allow both
// server auth and client auth: every certificate of it that lists some
// lists both, or anyExtendedKeyUsage (as crypto/x509 checks one usage).
func nodeUsages(chain []*x509.Certificate) error {
	for _, c := range chain {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			continue
		}
		for _, u := range []struct {
			eku  x509.ExtKeyUsage
			name string
		}{{x509.ExtKeyUsageServerAuth, "server auth"}, {x509.ExtKeyUsageClientAuth, "client auth"}} {
			if !slices.Contains(c.ExtKeyUsage, u.eku) {
				return fmt.Errorf("does not allow %s (%q lists its extended key usages without it)", u.name, c.Subject.CommonName)
			}
		}
	}
	return nil
}

// chainNotAfter returns the earliest NotAfter of a chain.
func chainNotAfter(chain []*x509.Certificate) time.Time {
	t := chain[0].NotAfter
	for _, c := range chain[1:] {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// tlsConfig returns the TLS configuration of one link or circuit end:
// TLS 1.3 only, mutual, with the node's current credentials. Neither end
// lets crypto/tls verify the peer's chain (it would try every certificate
// the peer sends as a parent): VerifyConnection applies the caps and then
// verifyChain, before the peer's signature of the handshake is checked.
// When expect is not zero the peer's certificate must prove that id.
// Once the handshake has verified the peer, what it proved is in *peer,
// if peer is not nil.
func (i *identity) tlsConfig(server bool, expect uint64, peer *peerCert) *tls.Config {
	cr := i.creds()
	c := i.base.Clone()
	c.MinVersion = tls.VersionTLS13
	c.MaxVersion = 0
	c.Certificates = []tls.Certificate{cr.cert}
	c.GetCertificate, c.GetClientCertificate, c.GetConfigForClient = nil, nil, nil
	c.RootCAs, c.ClientCAs = cr.pool, cr.pool
	c.SessionTicketsDisabled = true
	c.NextProtos = []string{"plexus-mesh/1"}
	if server {
		c.ClientAuth = tls.RequireAnyClientCert
	} else {
		// The peers are named by id, not by DNS name, and the chain is
		// checked in VerifyConnection.
		c.InsecureSkipVerify = true
	}
	c.VerifyPeerCertificate = nil
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.Version != tls.VersionTLS13 {
			return fmt.Errorf("%w: TLS version %#x, the mesh requires TLS 1.3", ErrNotAuthorized, cs.Version)
		}
		v, err := i.verifyChain(cr, cs.PeerCertificates, time.Now())
		if err != nil {
			return err
		}
		if expect != 0 && v.id != expect {
			return fmt.Errorf("%w: expected node %s, the peer's certificate proves %s", ErrIDMismatch, FormatID(expect), FormatID(v.id))
		}
		chains := [][]*x509.Certificate{v.chain}
		// The user's own checks, if the WithTLS config has any, come after
		// the mesh's, on every link and circuit, whichever end this is.
		if f := i.base.VerifyPeerCertificate; f != nil {
			raw := make([][]byte, len(cs.PeerCertificates))
			for j, c := range cs.PeerCertificates {
				raw[j] = c.Raw
			}
			if err := f(raw, chains); err != nil {
				return fmt.Errorf("%w: the config's VerifyPeerCertificate refused node %s: %w", ErrNotAuthorized, FormatID(v.id), err)
			}
		}
		if f := i.base.VerifyConnection; f != nil {
			cs.VerifiedChains = chains
			if err := f(cs); err != nil {
				return fmt.Errorf("%w: the config's VerifyConnection refused node %s: %w", ErrNotAuthorized, FormatID(v.id), err)
			}
		}
		if peer != nil {
			*peer = peerCert{id: v.id, certs: cs.PeerCertificates, notAfter: v.notAfter, grants: v.grants}
		}
		return nil
	}
	return c
}

// handshake runs one end of a link's or a circuit's TLS over conn. It
// reads at most maxHandshakeRead bytes from the peer until it is done.
// heard, if set, is called when a server has read the peer's ClientHello.
//
// protos, if not nil, replaces the application protocols offered (ALPN):
// a link offers the resumable link protocol (see resumelink.go) first.
func (i *identity) handshake(ctx context.Context, conn net.Conn, server bool, expect uint64, peer *peerCert, heard func(), protos ...string) (*tls.Conn, error) {
	lc := &handshakeConn{Conn: conn, left: maxHandshakeRead}
	// The session over tc seals its batches of frames into records that
	// rc gathers, and writes them itself (see fastio.RecordConn).
	rc := fastio.NewRecordConn(lc, conn)
	var tc *tls.Conn
	if server {
		cfg := i.tlsConfig(true, expect, peer)
		if protos != nil {
			cfg.NextProtos = protos
		}
		if heard != nil {
			cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				heard()
				return nil, nil // this config
			}
		}
		tc = tls.Server(rc, cfg)
	} else {
		cfg := i.tlsConfig(false, expect, peer)
		if protos != nil {
			cfg.NextProtos = protos
		}
		tc = tls.Client(rc, cfg)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		if lc.over {
			return nil, fmt.Errorf("%w: the peer sent more than %d bytes in its TLS handshake", base.ErrChainCaps, maxHandshakeRead)
		}
		if rf := connRefusal(0, err); rf != nil { // a circuit's far end refused it during the handshake (a limit)
			rf.op = "circuit"
			return nil, rf
		}
		if closedEarly(err) {
			return nil, fmt.Errorf("%w: TLS handshake: %w (%v)", ErrNotAuthorized, errHungUp, err)
		}
		return nil, tlsError(err)
	}
	lc.left = -1 // done: no cap; whoever reads tc from now on was started after this
	return tc, nil
}

// handshakeConn caps the bytes a TLS handshake reads (left; -1: no cap).
type handshakeConn struct {
	net.Conn
	left int
	over bool
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if c.left < 0 {
		return c.Conn.Read(p)
	}
	if c.left == 0 {
		c.over = true
		return 0, base.ErrChainCaps
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

// closedEarly reports whether a handshake (TLS, or the link's) failed
// because the peer closed the connection, the session or the stream (or
// reset it), rather than with a TLS alert or a failed check: a hang-up
// (see errHungUp).
func closedEarly(err error) bool {
	if tlsAlert(err) || errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrIDMismatch) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, mux.ErrStreamReset) || errors.Is(err, mux.ErrSessionClosed)
}

// tlsAlert reports whether err carries a TLS alert the peer sent:
// crypto/tls reports one as a *net.OpError of Op "remote error".
func tlsAlert(err error) bool {
	var alert tls.AlertError
	var op *net.OpError
	return errors.As(err, &alert) || errors.As(err, &op) && op.Op == "remote error"
}

// tlsError makes a failed TLS handshake an ErrNotAuthorized (or the mesh
// error our own checks returned).
func tlsError(err error) error {
	if errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrIDMismatch) {
		return err
	}
	return fmt.Errorf("%w: TLS handshake: %v (is the peer a member of this secured mesh?)", ErrNotAuthorized, err)
}

// peerCert is what a peer's certificate proved in a TLS handshake: its id,
// and until when (the earliest NotAfter of its chain); its chain, to
// check it again when the mesh CA changes; what it grants (AllowGroups).
type peerCert struct {
	id       uint64
	certs    []*x509.Certificate
	notAfter time.Time
	grants   *Grants
}

// stillValid checks a peer's certificate again, against the current
// credentials.
func (i *identity) stillValid(p *peerCert, now time.Time) error {
	if len(p.certs) == 0 {
		return nil
	}
	_, err := i.verifyChain(i.creds(), p.certs, now)
	return err
}

// sign signs a record body with the node's current key; see creds.sign.
func (i *identity) sign(b []byte) ([]byte, error) { return i.creds().sign(b) }

// sign signs a record body with the key; see signBytes.
func (cr *creds) sign(b []byte) ([]byte, error) { return signBytes(cr.signer, b) }

// signBytes signs b with key as records and revocation lists are signed
// (verifySig checks it): Ed25519 over the bytes, ECDSA (ASN.1) and RSA
// (PKCS #1 v1.5) over their SHA-256.
func signBytes(key crypto.Signer, b []byte) ([]byte, error) {
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		return key.Sign(rand.Reader, b, crypto.Hash(0))
	}
	sum := sha256.Sum256(b)
	return key.Sign(rand.Reader, sum[:], crypto.SHA256)
}

// verifyRecord checks a decoded record: it carries a certificate chain of
// the mesh CA, within the caps, that proves the record's id, and a
// signature by that certificate's key over the record. What costs CPU
// comes last: a record whose chain is over the caps, or whose leaf proves
// another id (forged), is refused before any signature is checked. Once
// verified, it returns what the certificate grants, and the certificate.
func (i *identity) verifyRecord(rec *linkstate.Record, raw []byte, now time.Time) (*Grants, *x509.Certificate, error) {
	if rec.Cert == nil || rec.Sig == nil {
		return nil, nil, fmt.Errorf("%w: record of %s is not signed", ErrNotAuthorized, FormatID(rec.ID))
	}
	certs, err := parseChain(rec.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("record of %s: %w", FormatID(rec.ID), err)
	}
	if id := IDFromCert(certs[0]); id != rec.ID {
		return nil, nil, fmt.Errorf("%w: record announces node %s but its certificate proves %s (forged)", ErrNotAuthorized, FormatID(rec.ID), FormatID(id))
	}
	v, err := i.verifyChain(i.creds(), certs, now)
	if err != nil {
		return nil, nil, fmt.Errorf("record of %s: %w", FormatID(rec.ID), err)
	}
	if !verifySig(v.pub, raw[:rec.SignedLen], rec.Sig) {
		return nil, nil, fmt.Errorf("%w: record %s/%d: bad signature", ErrNotAuthorized, FormatID(rec.ID), rec.Seq)
	}
	return v.grants, v.chain[0], nil
}

// parseChain parses a record's certificate chain (the leaf's DER, then
// any intermediates'), counting its certificates before it parses any.
func parseChain(der []byte) ([]*x509.Certificate, error) {
	n := 0
	for rest := der; len(rest) > 0; n++ {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return nil, fmt.Errorf("%w: certificate: %v", ErrNotAuthorized, err)
		}
		if n == base.MaxChainCerts {
			return nil, fmt.Errorf("%w: more than %d certificates", base.ErrChainCaps, base.MaxChainCerts)
		}
	}
	if err := checkCaps(n, len(der)); err != nil {
		return nil, err
	}
	certs, err := x509.ParseCertificates(der)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrNotAuthorized, err)
	}
	return certs, nil
}

// forget empties the cache of verified chains, whose verdicts may not
// hold under another CA pool.
func (i *identity) forget() {
	i.mu.Lock()
	clear(i.known)
	i.mu.Unlock()
}

func verifySig(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, sum[:], sig)
	case *rsa.PublicKey:
		sum := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil
	}
	return false
}
