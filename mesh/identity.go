package mesh

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// identity is what a secured node knows and proves: its credentials (its
// certificate and key, and the mesh CA pool), which ReloadTLS may replace,
// and the id derived from the certificate's key, which never changes.
type identity struct {
	id   uint64
	base *tls.Config // the user's config, cloned
	cur  atomic.Pointer[creds]

	mu    sync.Mutex
	known map[[32]byte]knownCert // certificates already verified, by SHA-256 of their DER
}

// creds are a secured node's credentials at one time; never modified.
type creds struct {
	cert   tls.Certificate
	leaf   *x509.Certificate
	chain  []byte // the certificate chain as records carry it: the leaf's DER, then the intermediates'
	sigMax int    // an upper bound of the length of our signatures
	pool   *x509.CertPool
	signer crypto.Signer
}

type knownCert struct {
	id       uint64
	pub      crypto.PublicKey
	notAfter time.Time
	by       *creds // the credentials (CA pool) it was verified with
}

// maxKnownCerts bounds the cache of verified certificates.
const maxKnownCerts = 4096

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
	id := &identity{base: cfg.Clone(), known: make(map[[32]byte]knownCert)}
	cr, err := id.newCreds(cfg.Certificates[0], pool)
	if err != nil {
		return nil, fmt.Errorf("mesh: WithTLS: %w", err)
	}
	id.id = IDFromCert(cr.leaf)
	id.cur.Store(cr)
	return id, nil
}

// newCreds checks a certificate (with its key and any intermediates) and a
// CA pool: the key signs, the chain fits a record, and the certificate
// chains to the pool and may serve as a node's (see verify).
func (i *identity) newCreds(cert tls.Certificate, pool *x509.CertPool) (*creds, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("the certificate is empty")
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("the certificate's private key cannot sign")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing our certificate: %w", err)
		}
	}
	cr := &creds{cert: cert, leaf: leaf, pool: pool, signer: signer}
	for _, der := range cert.Certificate {
		cr.chain = append(cr.chain, der...)
	}
	if len(cr.chain) > maxRecordCert {
		return nil, fmt.Errorf("the certificate chain has %d bytes, more than a record carries (%d)", len(cr.chain), maxRecordCert)
	}
	if _, _, err := i.verifyIn(pool, leaf, cert.Certificate[1:], time.Now()); err != nil {
		return nil, fmt.Errorf("our own certificate: %w", err)
	}
	sig, err := cr.sign([]byte("mesh: the length of a signature"))
	if err != nil {
		return nil, fmt.Errorf("the certificate's key cannot sign: %w", err)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, errors.New("the private key is not the certificate's")
	}
	cr.sigMax = len(sig) + 16 // ECDSA's ASN.1 signatures vary by a few bytes
	return cr, nil
}

// creds returns the node's current credentials.
func (i *identity) creds() *creds { return i.cur.Load() }

// leaf returns our certificate, parsed.
func (i *identity) leaf() *x509.Certificate { return i.creds().leaf }

// verify checks a certificate against the current mesh CA pool; see
// verifyIn.
func (i *identity) verify(leaf *x509.Certificate, inter [][]byte, now time.Time) (uint64, time.Time, error) {
	return i.verifyIn(i.creds().pool, leaf, inter, now)
}

// verifyIn checks that leaf chains to pool, the mesh CA (through the
// intermediates given as DER) and may serve as a node's certificate, and
// returns the id it proves and when it stops being valid (the earliest
// NotAfter of the chain).
//
// A node is both a TLS server and a TLS client, on links and on circuits,
// and signs its records, so the rule, the same for our own certificate
// (New), for both ends of every link and circuit, and for the certificate
// of every record, is: the key usage, if the certificate has one, includes
// digital signature, and the extended key usages of the chain allow both
// server auth and client auth (a certificate that lists none, or
// anyExtendedKeyUsage, allows both; a CA's list constrains what it
// issues, as crypto/x509 checks).
func (i *identity) verifyIn(pool *x509.CertPool, leaf *x509.Certificate, inter [][]byte, now time.Time) (uint64, time.Time, error) {
	id, notAfter, _, err := i.verifyChains(pool, leaf, inter, now)
	return id, notAfter, err
}

// verifyChains is verifyIn that also returns the verified chains.
func (i *identity) verifyChains(pool *x509.CertPool, leaf *x509.Certificate, inter [][]byte, now time.Time) (uint64, time.Time, [][]*x509.Certificate, error) {
	opts := x509.VerifyOptions{Roots: pool, CurrentTime: now}
	if len(inter) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, der := range inter {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return 0, time.Time{}, nil, fmt.Errorf("%w: intermediate certificate: %v", ErrNotAuthorized, err)
			}
			opts.Intermediates.AddCert(c)
		}
	}
	id := IDFromCert(leaf)
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return 0, time.Time{}, nil, fmt.Errorf("%w: certificate of %s: its key usage lacks digital signature, which a node needs", ErrNotAuthorized, FormatID(id))
	}
	var notAfter time.Time
	var verified [][]*x509.Certificate
	for _, u := range nodeUsages {
		opts.KeyUsages = []x509.ExtKeyUsage{u.eku}
		chains, err := leaf.Verify(opts)
		if err != nil {
			var inv x509.CertificateInvalidError
			if errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage {
				return 0, time.Time{}, nil, fmt.Errorf("%w: certificate of %s does not allow %s, which a node needs (extended key usages serverAuth and clientAuth, or none): %v", ErrNotAuthorized, FormatID(id), u.name, err)
			}
			return 0, time.Time{}, nil, fmt.Errorf("%w: certificate of %s is not from the mesh CA: %v", ErrNotAuthorized, FormatID(id), err)
		}
		if notAfter.IsZero() {
			notAfter, verified = chainNotAfter(chains[0]), chains
		}
	}
	return id, notAfter, verified, nil
}

// nodeUsages are the extended key usages a node's certificate must allow.
var nodeUsages = []struct {
	eku  x509.ExtKeyUsage
	name string
}{{x509.ExtKeyUsageServerAuth, "server auth"}, {x509.ExtKeyUsageClientAuth, "client auth"}}

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
// TLS 1.3 only, mutual, verified against the mesh CA, with the node's
// current credentials. When expect is not zero the peer's certificate
// must prove that id. Once the handshake has verified the peer, what it
// proved is in *peer, if peer is not nil.
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
		c.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		// The peers are named by id, not by DNS name: the chain and the id
		// are checked in VerifyConnection instead.
		c.InsecureSkipVerify = true
	}
	c.VerifyPeerCertificate = nil
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.Version != tls.VersionTLS13 {
			return fmt.Errorf("%w: TLS version %#x, the mesh requires TLS 1.3", ErrNotAuthorized, cs.Version)
		}
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: the peer sent no certificate", ErrNotAuthorized)
		}
		var inter [][]byte
		for _, c := range cs.PeerCertificates[1:] {
			inter = append(inter, c.Raw)
		}
		got, notAfter, chains, err := i.verifyChains(cr.pool, cs.PeerCertificates[0], inter, time.Now())
		if err != nil {
			return err
		}
		if expect != 0 && got != expect {
			return fmt.Errorf("%w: expected node %s, the peer's certificate proves %s", ErrIDMismatch, FormatID(expect), FormatID(got))
		}
		// The user's own checks, if the WithTLS config has any, come after
		// the mesh's, on every link and circuit, whichever end this is.
		if f := i.base.VerifyPeerCertificate; f != nil {
			raw := make([][]byte, len(cs.PeerCertificates))
			for j, c := range cs.PeerCertificates {
				raw[j] = c.Raw
			}
			if err := f(raw, chains); err != nil {
				return fmt.Errorf("%w: the config's VerifyPeerCertificate refused node %s: %w", ErrNotAuthorized, FormatID(got), err)
			}
		}
		if f := i.base.VerifyConnection; f != nil {
			cs.VerifiedChains = chains
			if err := f(cs); err != nil {
				return fmt.Errorf("%w: the config's VerifyConnection refused node %s: %w", ErrNotAuthorized, FormatID(got), err)
			}
		}
		if peer != nil {
			*peer = peerCert{id: got, leaf: cs.PeerCertificates[0], inter: inter, notAfter: notAfter}
		}
		return nil
	}
	return c
}

// peerCert is what a peer's certificate proved in a TLS handshake: its id,
// and until when (the earliest NotAfter of its chain); its leaf and
// intermediates, to check it again when the mesh CA changes.
type peerCert struct {
	id       uint64
	leaf     *x509.Certificate
	inter    [][]byte
	notAfter time.Time
}

// stillValid checks a peer's certificate again, against the current
// credentials.
func (i *identity) stillValid(p *peerCert, now time.Time) error {
	if p.leaf == nil {
		return nil
	}
	_, _, err := i.verify(p.leaf, p.inter, now)
	return err
}

// sign signs a record body with the node's current key; see creds.sign.
func (i *identity) sign(b []byte) ([]byte, error) { return i.creds().sign(b) }

// sign signs a record body with the key: Ed25519 over the bytes, ECDSA
// (ASN.1) and RSA (PKCS #1 v1.5) over their SHA-256.
func (cr *creds) sign(b []byte) ([]byte, error) {
	if _, ok := cr.signer.Public().(ed25519.PublicKey); ok {
		return cr.signer.Sign(rand.Reader, b, crypto.Hash(0))
	}
	sum := sha256.Sum256(b)
	return cr.signer.Sign(rand.Reader, sum[:], crypto.SHA256)
}

// verifyRecord checks a decoded record: it carries a certificate of the
// mesh CA that proves the record's id, and a signature by that
// certificate's key over the record.
func (i *identity) verifyRecord(rec *record, raw []byte, now time.Time) error {
	if rec.cert == nil || rec.sig == nil {
		return fmt.Errorf("%w: record of %s is not signed", ErrNotAuthorized, FormatID(rec.id))
	}
	kc, err := i.knownCert(rec.cert, now)
	if err != nil {
		return fmt.Errorf("record of %s: %w", FormatID(rec.id), err)
	}
	if kc.id != rec.id {
		return fmt.Errorf("%w: record announces node %s but its certificate proves %s (forged)", ErrNotAuthorized, FormatID(rec.id), FormatID(kc.id))
	}
	if !verifySig(kc.pub, raw[:rec.signedLen], rec.sig) {
		return fmt.Errorf("%w: record %s/%d: bad signature", ErrNotAuthorized, FormatID(rec.id), rec.seq)
	}
	return nil
}

// forget empties the cache of verified certificates, whose verdicts may
// not hold under another CA pool.
func (i *identity) forget() {
	i.mu.Lock()
	clear(i.known)
	i.mu.Unlock()
}

// knownCert verifies a record's certificate chain (the leaf's DER, then
// any intermediates' DER), from the cache when it was verified before.
func (i *identity) knownCert(der []byte, now time.Time) (knownCert, error) {
	key := sha256.Sum256(der)
	cr := i.creds()
	i.mu.Lock()
	kc, ok := i.known[key]
	i.mu.Unlock()
	if ok && now.Before(kc.notAfter) && kc.by == cr {
		return kc, nil
	}
	certs, err := x509.ParseCertificates(der)
	if err != nil || len(certs) == 0 {
		return kc, fmt.Errorf("%w: certificate: %v", ErrNotAuthorized, err)
	}
	var inter [][]byte
	for _, c := range certs[1:] {
		inter = append(inter, c.Raw)
	}
	id, notAfter, err := i.verifyIn(cr.pool, certs[0], inter, now)
	if err != nil {
		return kc, err
	}
	kc = knownCert{id: id, pub: certs[0].PublicKey, notAfter: notAfter, by: cr}
	i.mu.Lock()
	if len(i.known) >= maxKnownCerts {
		clear(i.known)
	}
	i.known[key] = kc
	i.mu.Unlock()
	return kc, nil
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
