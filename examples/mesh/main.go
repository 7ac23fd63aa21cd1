// Command mesh runs a secured three-node mesh in one process: a relay in
// the middle and two nodes joined to it over loopback TCP, with
// certificates of a mesh CA made in memory. One node offers the service
// "billing"; the other reaches it by name, through the relay, over a plain
// connection and over HTTP, and prints what happens.
//
//	go run ./examples/mesh
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// patience bounds every wait of the program.
const patience = 10 * time.Second

// run builds the mesh, talks across it, prints what happens to w and
// closes everything before it returns.
func run(w io.Writer) error {
	ca, err := newCA()
	if err != nil {
		return err
	}
	newNode := func(opts ...mesh.Option) (*mesh.Node, error) {
		cfg, err := ca.nodeConfig()
		if err != nil {
			return nil, err
		}
		return mesh.New(append([]mesh.Option{mesh.WithName("example"), mesh.WithTLS(cfg)}, opts...)...)
	}

	// The relay accepts links on a loopback port.
	relay, err := newNode()
	if err != nil {
		return err
	}
	defer relay.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- relay.Serve(ln) }()
	defer func() { relay.Close(); <-served }()
	fmt.Fprintln(w, "relay: accepting links, mutual TLS 1.3 against the mesh CA")

	// Two nodes that do not relay join it: billing offers a service,
	// app uses it.
	billing, err := newNode(mesh.WithRelay(false))
	if err != nil {
		return err
	}
	defer billing.Close()
	app, err := newNode(mesh.WithRelay(false))
	if err != nil {
		return err
	}
	defer app.Close()
	for _, n := range []*mesh.Node{billing, app} {
		if err := n.Join("tcp", ln.Addr().String()); err != nil {
			return err
		}
	}

	// billing: a line-echo service and an HTTP server, each announced by name.
	echoLn, err := billing.Listen("", "billing")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer echoLn.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveLines(echoLn)
	}()
	webLn, err := billing.Listen("", "billing-web")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "invoice list for %s", r.URL.Path)
	})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.Serve(webLn)
	}()
	defer srv.Close()
	fmt.Fprintln(w, "billing: joining the relay, offers services billing and billing-web")

	// app learns of both services from billing's signed record, which the
	// relay floods to it.
	for _, name := range []string{"billing", "billing-web"} {
		hops, err := waitService(app, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "app: sees service %s %d hops away\n", name, hops)
	}

	// A connection by name: through a circuit spliced at the relay, with
	// end-to-end TLS between app and billing.
	c, err := app.DialTimeout("", "billing", patience)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(patience))
	fmt.Fprintln(c, "hello billing")
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "app: dialed billing by name, it answered %q\n", line)

	relayed := 0
	for _, ci := range relay.Circuits() {
		if ci.Role == mesh.CircuitRelayed {
			relayed++
		}
	}
	fmt.Fprintf(w, "relay: forwards %d circuit, and cannot read it (end-to-end TLS)\n", relayed)

	// HTTP over the mesh: http://<service>/ reaches the service.
	tr := app.HTTPTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: patience}
	resp, err := client.Get("http://billing-web/invoices")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "app: GET http://billing-web/invoices: %s: %s\n", resp.Status, body)
	return nil
}

// serveLines answers every connection of ln with "re: " and each line it
// reads, until ln is closed.
func serveLines(ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(patience))
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				fmt.Fprintf(c, "re: %s\n", sc.Text())
			}
		}()
	}
}

// waitService waits until n knows of an instance of the service name and
// returns how many hops away it is. Links come up and records flood in
// the background; Services shows what has arrived.
func waitService(n *mesh.Node, name string) (int, error) {
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, s := range n.Services() {
			if s.Name == name {
				return s.Hops, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, errors.New("no service " + name + " within " + patience.String())
		}
		<-tick.C
	}
}

// ca is a mesh CA made in memory. A real mesh keeps its CA key offline
// (plexus cert ca, or openssl: docs/mesh.md).
type ca struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newCA() (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "example mesh CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &ca{cert: cert, key: key, pool: pool, serial: 1}, nil
}

// nodeConfig makes a node key and certificate signed by the CA, and the
// config mesh.WithTLS takes: the node's certificate and the CA pool. A
// node's id is derived from its public key.
func (ca *ca) nodeConfig() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: "example mesh node"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      ca.pool,
	}, nil
}
