package tlstcp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	req = transport.Proto{ID: 0x30, Name: "req"}
	rep = transport.Proto{ID: 0x31, Name: "rep"}
)

// testTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "plexus test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestTLS(t *testing.T) {
	ctx := context.Background()
	srvTLS, cliTLS := testTLS(t)
	u, _ := transport.ParseURL("tls+tcp://127.0.0.1:0")
	l, err := Transport{}.Listen(ctx, u, &transport.Config{Self: rep, Peer: req, TLS: srvTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ = transport.ParseURL(l.Addr())
	c, err := Transport{}.Dial(ctx, u, &transport.Config{Self: req, Peer: rep, TLS: cliTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Send(transport.AppendFrame(nil, []byte("secret")))
	if m, err := s.Recv(); err != nil || string(m) != "secret" {
		t.Fatalf("%q %v", m, err)
	}

	// A client that does not trust the server fails; there is no fallback.
	if _, err := (Transport{}).Dial(ctx, u, &transport.Config{Self: req, Peer: rep, TLS: &tls.Config{}}); err == nil {
		t.Fatal("untrusted server accepted")
	}
}

func TestNoConfig(t *testing.T) {
	ctx := context.Background()
	u, _ := transport.ParseURL("tls+tcp://127.0.0.1:0")
	if _, err := (Transport{}).Listen(ctx, u, &transport.Config{Self: rep, Peer: req}); !errors.Is(err, transport.ErrNoTLSConfig) {
		t.Fatalf("listen without config: %v", err)
	}
	if _, err := (Transport{}).Listen(ctx, u, &transport.Config{Self: rep, Peer: req, TLS: &tls.Config{}}); !errors.Is(err, transport.ErrNoTLSConfig) {
		t.Fatalf("listen without certificate: %v", err)
	}
	u, _ = transport.ParseURL("tls+tcp://127.0.0.1:1")
	if _, err := (Transport{}).Dial(ctx, u, &transport.Config{Self: req, Peer: rep}); !errors.Is(err, transport.ErrNoTLSConfig) {
		t.Fatalf("dial without config: %v", err)
	}
}
