package limit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

// tlsName is the DNS name of the certificate TLSPair makes.
const tlsName = "limit.test"

// TLS is the limits of one crypto/tls connection over loopback TCP, the
// bound of a secured stream between neighbours: both are one TLS
// connection, with or without a mux inside.
type TLS struct {
	RTT      Figure // µs per 32 B round trip
	Bulk     Figure // MB/s at the best size
	BulkSize int    // the size that gave Bulk (of the median round)
	Suite    string // the cipher suite crypto/tls negotiated
	Rounds   int
}

// MeasureTLS measures the limits of one TLS connection rounds times (at
// least once), each measurement over w, and returns the medians.
func MeasureTLS(w harness.Window, rounds int) (TLS, error) {
	suite, err := TLSSuite()
	if err != nil {
		return TLS{}, err
	}
	rtt, bulk, size, err := measure(w, rounds, tlsPair)
	if err != nil {
		return TLS{}, err
	}
	return TLS{RTT: rtt, Bulk: bulk, BulkSize: size, Suite: suite, Rounds: max(rounds, 1)}, nil
}

// TLSRoundTrip returns µs per 32-byte echo on one TLS connection.
func TLSRoundTrip(w harness.Window) (float64, error) { return roundTrip(w, tlsPair) }

// TLSBestBulk returns the best MB/s on one TLS connection over BulkSizes
// and the size that gave it.
func TLSBestBulk(w harness.Window) (float64, int, error) { return bestBulk(w, tlsPair) }

// TLSSuite returns the name of the cipher suite crypto/tls negotiates
// between the ends TLSPair makes.
func TLSSuite() (string, error) {
	c, s, err := tlsPair()
	if err != nil {
		return "", err
	}
	defer s.Close()
	defer c.Close()
	return tls.CipherSuiteName(c.(*tls.Conn).ConnectionState().CipherSuite), nil
}

// tlsPair is a fresh loopback TCP connection secured by TLSPair.
func tlsPair() (net.Conn, net.Conn, error) {
	c, s, err := tcpPair()
	if err != nil {
		return nil, nil, err
	}
	tc, ts, err := TLSPair(c, s)
	if err != nil {
		return nil, nil, err
	}
	return tc, ts, nil
}

// Line says the limits in one sentence, for above a table.
func (t TLS) Line() string {
	return fmt.Sprintf("One crypto/tls connection over loopback (TLS 1.3, %s as crypto/tls picks it here; median of %d): %s.", t.Suite, t.Rounds, figures(t.RTT, t.Bulk, t.BulkSize))
}

// TLSPair secures the two ends of a fresh connection with TLS 1.3 (the
// client verifies a certificate made for the call, ECDSA P-256) and
// returns the secured ends once both handshakes are done. crypto/tls
// does not let a TLS 1.3 cipher suite be chosen: it picks AES-128-GCM
// where both ends have AES hardware, else ChaCha20-Poly1305. On an error
// both connections are closed.
func TLSPair(client, server net.Conn) (*tls.Conn, *tls.Conn, error) {
	fail := func(err error) (*tls.Conn, *tls.Conn, error) {
		client.Close()
		server.Close()
		return nil, nil, err
	}
	cert, pool, err := selfSigned()
	if err != nil {
		return fail(err)
	}
	sc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	cc := &tls.Config{RootCAs: pool, ServerName: tlsName, MinVersion: tls.VersionTLS13}
	tc, ts := tls.Client(client, cc), tls.Server(server, sc)
	errc := make(chan error, 1)
	go func() { errc <- ts.Handshake() }()
	err = tc.Handshake()
	if err != nil {
		client.Close() // so that the server's handshake ends too
	}
	if serr := <-errc; err == nil {
		err = serr
	}
	if err != nil {
		return fail(fmt.Errorf("TLS handshake: %w", err))
	}
	return tc, ts, nil
}

// selfSigned makes a certificate for tlsName valid for a day, and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: tlsName},
		DNSNames:              []string{tlsName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
