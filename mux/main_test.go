package mux

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// transports the tests run sessions over.
var transports = []struct {
	name string
	pipe func(t testing.TB) (net.Conn, net.Conn)
}{
	{"TCP", tcpPipe},
	{"Pipe", func(testing.TB) (net.Conn, net.Conn) { return net.Pipe() }},
	{"TLS", tlsPipe},
}

// tlsPipe returns both ends of a TLS 1.3 connection over loopback TCP, with
// a certificate made for the test.
func tlsPipe(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{"mux.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	c1, c2 := tcpPipe(t)
	client := tls.Client(c1, &tls.Config{RootCAs: pool, ServerName: "mux.test", MinVersion: tls.VersionTLS13})
	server := tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return client, server
}

// tcpPipe returns both ends of a loopback TCP connection.
func tcpPipe(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c1, r.c
}

// sessionPair starts a client and a server session over pipe; both are
// closed when the test ends.
func sessionPair(t testing.TB, pipe func(testing.TB) (net.Conn, net.Conn), ccfg, scfg *Config) (*Session, *Session) {
	t.Helper()
	c1, c2 := pipe(t)
	cs, err := Client(c1, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Server(c2, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Close()
	})
	return cs, ss
}

// streamPair opens a stream on c and accepts it on s.
func streamPair(t testing.TB, c, s *Session) (*Stream, *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
