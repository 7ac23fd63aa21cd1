package socket

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	_ "github.com/plexusnet/plexus/transport/ws"
)

// eventually waits for cond, failing the test if it is still false after
// a generous bound (the bound is a safety net, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// connected returns a listening socket and a socket dialed to it.
func connected(t *testing.T, url string, lopts, dopts []Option) (l, d Socket) {
	t.Helper()
	l, d = New(lopts...), New(dopts...)
	t.Cleanup(func() { d.Close(); l.Close() })
	addr, err := l.ListenAddr(url)
	if err != nil {
		t.Fatalf("listen %s: %v", url, err)
	}
	if err := d.Dial(addr); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	eventually(t, "both ends connected", func() bool { return l.Stats().Pipes == 1 && d.Stats().Pipes == 1 })
	return l, d
}

// testTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config trusting it.
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

// transportURLs are the listen URLs of every built-in transport (and ws).
func transportURLs(t *testing.T) []string {
	return []string{
		"inproc://" + t.Name(),
		"ipc://" + t.TempDir() + "/s.sock",
		"tcp://127.0.0.1:0",
		"tls+tcp://127.0.0.1:0",
		"ws://127.0.0.1:0/plexus",
	}
}
