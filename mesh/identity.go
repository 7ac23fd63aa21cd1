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
	"time"
)

// identity is what a secured node knows and proves: its certificate and
// key, the mesh CA pool, and the id derived from the certificate.
type identity struct {
	id     uint64
	cert   tls.Certificate
	pool   *x509.CertPool
	signer crypto.Signer
	base   *tls.Config // the user's config, cloned

	mu    sync.Mutex
	known map[[32]byte]knownCert // certificates already verified, by SHA-256 of their DER
}

type knownCert struct {
	id       uint64
	pub      crypto.PublicKey
	notAfter time.Time
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
	if len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return nil, errors.New("mesh: WithTLS: the config has no certificate (Certificates[0])")
	}
	cert := cfg.Certificates[0]
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("mesh: WithTLS: the certificate's private key cannot sign")
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
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("mesh: WithTLS: parsing our certificate: %w", err)
		}
	}
	id := &identity{cert: cert, pool: pool, signer: signer, base: cfg.Clone(), known: make(map[[32]byte]knownCert)}
	if _, err := id.verify(leaf, cert.Certificate[1:], time.Now()); err != nil {
		return nil, fmt.Errorf("mesh: WithTLS: our own certificate: %w", err)
	}
	id.id = IDFromCert(leaf)
	return id, nil
}

// leaf returns our certificate, parsed.
func (i *identity) leaf() *x509.Certificate {
	c, _ := x509.ParseCertificate(i.cert.Certificate[0])
	return c
}

// verify checks that leaf chains to the mesh CA (through the
// intermediates given as DER) and returns the id it proves.
func (i *identity) verify(leaf *x509.Certificate, inter [][]byte, now time.Time) (uint64, error) {
	opts := x509.VerifyOptions{Roots: i.pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if len(inter) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, der := range inter {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return 0, fmt.Errorf("%w: intermediate certificate: %v", ErrNotAuthorized, err)
			}
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := leaf.Verify(opts); err != nil {
		return 0, fmt.Errorf("%w: certificate of %s is not from the mesh CA: %v", ErrNotAuthorized, FormatID(IDFromCert(leaf)), err)
	}
	return IDFromCert(leaf), nil
}

// tlsConfig returns the TLS configuration of one link or circuit end:
// TLS 1.3 only, mutual, verified against the mesh CA. When expect is not
// zero the peer's certificate must prove that id. After the handshake,
// peerID reads the id the peer proved.
func (i *identity) tlsConfig(server bool, expect uint64) *tls.Config {
	c := i.base.Clone()
	c.MinVersion = tls.VersionTLS13
	c.MaxVersion = 0
	c.Certificates = []tls.Certificate{i.cert}
	c.GetCertificate, c.GetClientCertificate, c.GetConfigForClient = nil, nil, nil
	c.RootCAs, c.ClientCAs = i.pool, i.pool
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
		got, err := i.verify(cs.PeerCertificates[0], inter, time.Now())
		if err != nil {
			return err
		}
		if expect != 0 && got != expect {
			return fmt.Errorf("%w: expected node %s, the peer's certificate proves %s", ErrIDMismatch, FormatID(expect), FormatID(got))
		}
		return nil
	}
	return c
}

// peerID returns the id the peer's certificate proves.
func peerID(cs tls.ConnectionState) uint64 {
	if len(cs.PeerCertificates) == 0 {
		return 0
	}
	return IDFromCert(cs.PeerCertificates[0])
}

// sign signs a record body with the node's key: Ed25519 over the bytes,
// ECDSA (ASN.1) and RSA (PKCS #1 v1.5) over their SHA-256.
func (i *identity) sign(b []byte) ([]byte, error) {
	if _, ok := i.signer.Public().(ed25519.PublicKey); ok {
		return i.signer.Sign(rand.Reader, b, crypto.Hash(0))
	}
	sum := sha256.Sum256(b)
	return i.signer.Sign(rand.Reader, sum[:], crypto.SHA256)
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

// knownCert verifies a certificate (DER), from the cache when it was
// verified before.
func (i *identity) knownCert(der []byte, now time.Time) (knownCert, error) {
	key := sha256.Sum256(der)
	i.mu.Lock()
	kc, ok := i.known[key]
	i.mu.Unlock()
	if ok && now.Before(kc.notAfter) {
		return kc, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return kc, fmt.Errorf("%w: certificate: %v", ErrNotAuthorized, err)
	}
	id, err := i.verify(c, nil, now)
	if err != nil {
		return kc, err
	}
	kc = knownCert{id: id, pub: c.PublicKey, notAfter: c.NotAfter}
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
