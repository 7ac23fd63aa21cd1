package mesh_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// Two secured nodes over loopback TCP: one serves links and offers the
// service "echo", the other joins it and dials the service by name.
func Example() {
	caCert, caKey := exampleCA()
	a, err := mesh.New(mesh.WithName("example"), mesh.WithTLS(exampleNodeTLS(caCert, caKey)))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := mesh.New(mesh.WithName("example"), mesh.WithTLS(exampleNodeTLS(caCert, caKey)))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// a accepts links (ListenAndServe does the net.Listen itself).
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(tcp) }()
	defer func() { a.Close(); <-served }()

	// a offers "echo": a free virtual port, and the name announced to the mesh.
	ln, err := a.Listen("", "echo")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	// b keeps a link to a up, and learns of "echo" from a's signed record.
	if err := b.Join("tcp", tcp.Addr().String()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("echo is", exampleWaitService(b, "echo"), "hop away")

	c, err := b.DialTimeout("", "echo", 10*time.Second) // the nearest instance
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hello over the mesh"))
	c.(interface{ CloseWrite() error }).CloseWrite()
	reply, _ := io.ReadAll(c)
	c.Close()
	fmt.Println(string(reply))
	// Output:
	// echo is 1 hop away
	// hello over the mesh
}

// HTTPTransport carries HTTP over the mesh: http://<service>/ reaches a
// node that listens under that name.
func ExampleNode_HTTPTransport() {
	caCert, caKey := exampleCA()
	a, err := mesh.New(mesh.WithTLS(exampleNodeTLS(caCert, caKey)))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := mesh.New(mesh.WithTLS(exampleNodeTLS(caCert, caKey)))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(tcp) }()
	defer func() { a.Close(); <-served }()

	ln, err := a.Listen("", "billing")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "billing got %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	b.Join("tcp", tcp.Addr().String())
	exampleWaitService(b, "billing")
	tr := b.HTTPTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("http://billing/invoices")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))
	// Output:
	// 200 OK billing got /invoices
}

// exampleWaitService waits until n knows of the service name (links come
// up and records flood in the background) and returns its hops.
func exampleWaitService(n *mesh.Node, name string) int {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		for _, s := range n.Services() {
			if s.Name == name {
				return s.Hops
			}
		}
		<-tick.C
	}
	log.Fatal("no service ", name)
	return 0
}

// exampleCA makes a mesh CA in memory (docs/mesh.md shows how to make one
// with the plexus command or openssl).
func exampleCA() (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example mesh CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		log.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// exampleNodeTLS makes a node certificate of the CA and the config
// mesh.WithTLS takes: the certificate and key, and the CA as RootCAs.
func exampleNodeTLS(caCert *x509.Certificate, caKey *ecdsa.PrivateKey) *tls.Config {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "example mesh node"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool,
	}
}
