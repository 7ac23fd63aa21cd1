package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
	meshtp "github.com/plexusnet/plexus/transport/mesh"
)

// demoPatience bounds every wait of the mesh part of the demo.
const demoPatience = 10 * time.Second

// demoMesh is the demo's secured mesh: alpha - relay - beta over loopback
// TCP, alpha and beta joined to the relay, beta offering the services.
type demoMesh struct {
	alpha, relay, beta *mesh.Node
	names              map[uint64]string // node id → the common name of its certificate
	linksAt            net.Addr          // where the relay accepts links
	caName             string
	news               socket.Socket // beta's publisher, on mesh://news
	// newNode makes a node with a certificate of the demo's CA.
	newNode func(name string, relay bool) (*mesh.Node, error)

	wg      sync.WaitGroup // the goroutines serving beta's services
	stops   []func()       // run by close, last first
	closing sync.Once
}

// demoServices are the services beta offers, as alpha lists them.
var demoServices = []string{"billing", "echo", "news", "rpc"}

// label is how the demo prints a node: its name and the first 8 hex
// digits of its id.
func (m *demoMesh) label(id uint64) string {
	if name, ok := m.names[id]; ok {
		return fmt.Sprintf("%s (%s)", name, id8(id))
	}
	return id8(id)
}

// addrLabel is label for a mesh address "<16 hex>:port", as an HTTP
// server on the mesh sees its client's in Request.RemoteAddr.
func (m *demoMesh) addrLabel(addr string) string {
	host, _, _ := strings.Cut(addr, ":")
	if id, err := mesh.ParseID(host); err == nil {
		return m.label(id)
	}
	return addr
}

// close closes the services and the nodes, and waits for the goroutines
// serving them. It may be called more than once.
func (m *demoMesh) close() {
	m.closing.Do(func() {
		for i := len(m.stops) - 1; i >= 0; i-- {
			m.stops[i]()
		}
		m.wg.Wait()
	})
}

// startMesh makes the CA and the three nodes, in memory (steps: the
// certificates), and starts the relay; m.tour does the rest.
func startMesh(ctx context.Context, t *tour) (m *demoMesh, err error) {
	m = &demoMesh{names: map[uint64]string{}, caName: "plexus demo CA"}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	t.heading("A CA made in memory signs a certificate for each of three nodes, so that only its members can join the mesh: a node's name is its certificate's common name, its id derives from its key.")
	capub, cakey, err := newKey("ecdsa")
	if err != nil {
		return nil, err
	}
	der, err := signCA(m.caName, 1, capub, cakey)
	if err != nil {
		return nil, err
	}
	caLeaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &caFiles{leaf: caLeaf, key: cakey}
	pool := x509.NewCertPool()
	pool.AddCert(caLeaf)
	newNode := func(name string, relay bool) (*mesh.Node, error) {
		pub, key, err := newKey("ecdsa")
		if err != nil {
			return nil, err
		}
		der, leaf, err := signNode(ca, name, 1, pub, nil, nil)
		if err != nil {
			return nil, err
		}
		n, err := mesh.New(mesh.WithName("demo"), mesh.WithRelay(relay), mesh.WithResume(true), mesh.WithTLS(&tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
			RootCAs:      pool,
		}))
		if err != nil {
			return nil, err
		}
		m.stops = append(m.stops, func() { n.Close() })
		if n.ID() != mesh.IDFromCert(leaf) {
			return nil, fmt.Errorf("node %s: id %s, its certificate says %s", name, mesh.FormatID(n.ID()), mesh.FormatID(mesh.IDFromCert(leaf)))
		}
		m.names[n.ID()] = name
		return n, nil
	}
	m.newNode = newNode
	if m.relay, err = newNode("relay", true); err != nil {
		return nil, err
	}
	if m.alpha, err = newNode("alpha", false); err != nil {
		return nil, err
	}
	if m.beta, err = newNode("beta", false); err != nil {
		return nil, err
	}
	t.say("CA %q: an ECDSA P-256 key and certificate, in memory (nothing is written to disk)", m.caName)
	t.say("nodes %s, %s and %s, each with a key and a certificate signed by the CA",
		m.label(m.alpha.ID()), m.label(m.relay.ID()), m.label(m.beta.ID()))
	for _, n := range []*mesh.Node{m.alpha, m.relay, m.beta} {
		if !n.Info().Secure {
			return nil, fmt.Errorf("%s runs without TLS", m.label(n.ID()))
		}
	}
	t.say("TLS everywhere: every link is mutual TLS (each end checks the other's certificate against the CA),")
	t.say("and every circuit through a relay is TLS again, end to end between the two nodes it joins")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- m.relay.Serve(ln) }()
	// The relay closes with the nodes, after alpha and beta (the stops run
	// last first): an end whose resumable circuit lost its path would wait
	// out its inner session's close timeout (1 s) on Close.
	m.stops = append(m.stops, func() { ln.Close(); <-served })
	m.linksAt = ln.Addr()
	return m, nil
}

// tour: the joins, the services and the routes, a dial by name through
// the relay, HTTP by name.
func (m *demoMesh) tour(ctx context.Context, t *tour) error {
	if err := m.serve(); err != nil {
		return err
	}
	t.heading("alpha and beta join the relay, and alpha learns of beta's services and of a route to beta from beta's signed record, which the relay passes on.")
	start := time.Now()
	for _, n := range []*mesh.Node{m.alpha, m.beta} {
		if err := n.Join("tcp", m.linksAt.String()); err != nil {
			return err
		}
	}
	if err := m.waitServices(ctx, m.alpha); err != nil {
		return err
	}
	d := time.Since(start)
	t.say("%s accepts links on %v; alpha and beta joined it: %s", m.label(m.relay.ID()), m.linksAt, plural(len(m.relay.Links()), "link"))
	t.say("after %v, alpha sees beta's services, by name:", d.Round(time.Millisecond))
	for _, s := range m.alpha.Services() {
		t.say("  %-8s on %s, port %d, %s away", s.Name, m.label(s.Host), s.Port, plural(s.Hops, "hop"))
	}
	t.say("and its routes:")
	for _, r := range m.alpha.Routes() {
		how := "a direct link"
		if r.NextHop != r.Host {
			how = "via " + m.label(r.NextHop)
		}
		t.say("  to %s: %s, %s", m.label(r.Host), plural(r.Hops, "hop"), how)
	}

	t.heading("alpha dials the service echo by its name, not an address: the relay forwards the circuit to beta and cannot read it (end-to-end TLS).")
	start = time.Now()
	conn, err := m.alpha.DialContext(ctx, "", "echo")
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(demoPatience))
	msg := []byte("hello beta")
	if _, err := conn.Write(msg); err != nil {
		conn.Close()
		return err
	}
	got := make([]byte, len(msg))
	_, err = io.ReadFull(conn, got)
	conn.Close()
	if err != nil {
		return err
	}
	t.say("echo on beta sent back %q in %v (this first dial set up the circuit and its TLS handshake)", got, time.Since(start).Round(time.Microsecond))
	for _, c := range m.relay.Circuits() {
		if c.Role == mesh.CircuitRelayed {
			t.say("the relay forwards a circuit between %s and %s: %s it could only pass on", m.label(c.Source), m.label(c.Dest), plural(int(c.Bytes), "byte"))
		}
	}
	const opens = 2000
	start = time.Now()
	for range opens {
		conn, err := m.alpha.DialContext(ctx, "", "echo")
		if err != nil {
			return err
		}
		conn.Close()
	}
	d = time.Since(start)
	t.say("%d more dials to echo, one after another: each a new stream on that circuit, no handshake (%s)", opens, rate(opens, d, "dials"))

	t.heading("Any net/http client reaches an HTTP service of the mesh by its name: http://billing/ is the service billing, wherever it runs.")
	tr := m.alpha.HTTPTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: demoPatience}
	resp, err := hc.Get("http://billing/2024-42")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	t.say("alpha: GET http://billing/2024-42: %s %q", resp.Status, body)
	return nil
}

// serve starts beta's services: echo (a plain connection), billing
// (HTTP) and rpc (rep over mesh://); news, the publisher, starts in
// sockets.
func (m *demoMesh) serve() error {
	echoLn, err := m.beta.Listen("", "echo")
	if err != nil {
		return err
	}
	m.stops = append(m.stops, func() { echoLn.Close() })
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			conn, err := echoLn.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				io.Copy(conn, conn)
				conn.Close()
			}()
		}
	}()

	httpLn, err := m.beta.Listen("", "billing")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "invoice %s, for %s", strings.TrimPrefix(r.URL.Path, "/"), m.addrLabel(r.RemoteAddr))
	})}
	m.stops = append(m.stops, func() { srv.Close() })
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		srv.Serve(httpLn)
	}()

	server, err := rep.New(socket.WithTransport(meshtp.New(m.beta)))
	if err != nil {
		return err
	}
	if err := server.Listen("mesh://rpc"); err != nil {
		server.Close()
		return err
	}
	m.stops = append(m.stops, serveRep(server, "re: "))

	news, err := pub.New(pub.WithBlocking(), socket.WithTransport(meshtp.New(m.beta)))
	if err != nil {
		return err
	}
	m.stops = append(m.stops, func() { news.Close() })
	if err := news.Listen("mesh://news"); err != nil {
		return err
	}
	m.news = news
	return nil
}

// waitServices waits until n sees all of demoServices.
func (m *demoMesh) waitServices(ctx context.Context, n *mesh.Node) error {
	ctx, cancel := context.WithTimeout(ctx, demoPatience)
	defer cancel()
	for {
		var names []string
		for _, s := range n.Services() {
			names = append(names, s.Name)
		}
		slices.Sort(names)
		if slices.Equal(slices.Compact(names), demoServices) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s sees services %v, not %v: %w", m.label(n.ID()), names, demoServices, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sockets: req/rep and pub/sub over mesh://, through the relay.
func (m *demoMesh) sockets(ctx context.Context, t *tour) error {
	ctx, cancel := context.WithTimeout(ctx, demoPatience)
	defer cancel()
	t.heading("The same sockets over mesh://: alpha's req reaches the rep of the service rpc on beta by its name, through the relay, secured by the mesh.")
	client, err := req.New(socket.WithTransport(meshtp.New(m.alpha)))
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.DialContext(ctx, "mesh://rpc"); err != nil {
		return err
	}
	if err := client.SendContext(ctx, []byte("ping")); err != nil {
		return err
	}
	reply, err := client.RecvContext(ctx)
	if err != nil {
		return err
	}
	t.say("alpha sent %q to mesh://rpc; rpc on %s replied %q", "ping", m.label(m.beta.ID()), reply)

	t.heading("pub/sub over the mesh: beta publishes on mesh://news; the relay (1 hop away) and alpha (2 hops, through the relay) each get the topics they subscribed to.")
	subs := []struct {
		node  *mesh.Node
		topic string
		sock  socket.Socket
		got   []string
	}{{node: m.relay, topic: "news/"}, {node: m.alpha, topic: "weather/"}}
	for i := range subs {
		s := &subs[i]
		if err := m.waitServices(ctx, s.node); err != nil {
			return err
		}
		if s.sock, err = sub.New(socket.WithTransport(meshtp.New(s.node))); err != nil {
			return err
		}
		defer s.sock.Close()
		if err := sub.Subscribe(s.sock, []byte(s.topic)); err != nil {
			return err
		}
		if err := s.sock.DialContext(ctx, "mesh://news"); err != nil {
			return err
		}
	}
	// A publisher sends to the subscribers connected now.
	for m.news.Stats().Pipes < len(subs) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the publisher has %d of %d subscribers: %w", m.news.Stats().Pipes, len(subs), ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	published := []string{"weather/paris 21°C", "news/sport 2-1", "weather/oslo -3°C", "news/tech plexus speaks mesh://"}
	for _, p := range published {
		if err := m.news.SendContext(ctx, []byte(p)); err != nil {
			return err
		}
	}
	t.say("beta published %s, %s, to %s:", plural(len(published), "message"), quoteAll(published), plural(len(subs), "subscriber"))
	for i := range subs {
		s := &subs[i]
		var want []string
		for _, p := range published {
			if strings.HasPrefix(p, s.topic) {
				want = append(want, p)
			}
		}
		for len(s.got) < len(want) {
			b, err := s.sock.RecvContext(ctx)
			if err != nil {
				return fmt.Errorf("subscriber on %s: %w", m.label(s.node.ID()), err)
			}
			s.got = append(s.got, string(b))
		}
		if !slices.Equal(s.got, want) {
			return fmt.Errorf("subscriber on %s to %q got %q, want %q", m.label(s.node.ID()), s.topic, s.got, want)
		}
		hops := 0
		for _, sv := range s.node.Services() {
			if sv.Name == "news" {
				hops = sv.Hops
			}
		}
		t.say("  %s, %s from beta, subscribed to %q, received %s", m.label(s.node.ID()), plural(hops, "hop"), s.topic, quoteAll(s.got))
	}
	return nil
}

// quoteAll quotes each of ss and joins them with ", ".
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
