package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// meshFlags are the flags that make a mesh node: the node of `plexus
// node`, and the short-lived nodes of `plexus cat` and of `plexus sock`
// with mesh:// URLs. They are defined in one place, by (*flagSet).mesh.
type meshFlags struct {
	listen   []string // tcp://HOST:PORT to accept links on
	join     []string // HOST:PORT to keep a link to
	cert     string   // the node's certificate (PEM)
	key      string   // its key (PEM)
	ca       string   // the mesh CA's certificate: a PEM file, or a directory holding ca.crt
	insecure bool     // run without TLS
	name     string   // the mesh name
	nodeName string   // the node's name (--node-name): an insecure node's, or its certificate's CN again
	relay    bool     // relay circuits for others
	// certPolicy: believe a service only from a node whose certificate
	// names it (mesh.WithCertPolicy).
	certPolicy bool
	revoked    string // a revocation list file (plexus node --revoked)
	// advertise: HOST:PORT where the node accepts links, put in its
	// record (plexus node --advertise); direct: upgrade relayed pairs to
	// direct links (plexus node --direct, true unless turned off).
	advertise []string
	direct    bool
	// resume: resumable links (plexus node --resume), kept suspended for
	// resumeWindow (--resume-window; 0: the default) after a break.
	resume       bool
	resumeWindow time.Duration
}

// meshFlagNames names the flags of a command's meshFlags where the
// command already uses a name for something else: plexus cat and sock
// take --listen for their own addresses, and sock's TLS flags serve
// tls+tcp:// too.
type meshFlagNames struct {
	listen string // the flag of meshFlags.listen: "listen" or "mesh-listen"
	// sharedTLS: the command defines --cert, --key and --insecure itself,
	// bound to the same variables; only --ca is added.
	sharedTLS bool
}

// mesh adds the node flags to f, bound to m, under names. relayDefault
// is the default of --relay: true for a node that serves, false for a
// short-lived one.
func (f *flagSet) mesh(m *meshFlags, names meshFlagNames, relayDefault bool) {
	m.relay = relayDefault
	m.direct = true
	f.heading("mesh node")
	f.varFlag(listValue{&m.listen, false}, "tcp://HOST:PORT", "", "accept links on this address (repeatable; port 0 picks one, logged)", names.listen)
	f.varFlag(listValue{&m.join, false}, "HOST:PORT", "", "keep a link to the node at this address, redialing with backoff while it is down (repeatable)", "join")
	if !names.sharedTLS {
		f.stringFlag(&m.cert, "FILE", "this node's certificate (PEM), signed by the mesh CA ('plexus cert node')", "cert")
		f.stringFlag(&m.key, "FILE", "its private key (PEM)", "key")
	}
	f.stringFlag(&m.ca, "FILE|DIR", "the mesh CA's certificate (PEM), or the directory of 'plexus cert ca' holding ca.crt", "ca")
	if !names.sharedTLS {
		f.boolFlag(&m.insecure, "run the node without TLS: anyone who can reach it may join the mesh (needed when --cert, --key and --ca are not given)", "insecure")
	}
	f.boolFlag(&m.certPolicy, "enforce certificate policy: believe a service only from a node whose certificate names it ('plexus cert node --service'; needs TLS)", "cert-policy")
	f.stringFlag(&m.name, "NAME", "the mesh name: nodes of different names refuse to link (default "+mesh.DefaultName+")", "name")
	f.stringFlag(&m.nodeName, "NAME", "this node's name, shown beside its id and accepted where a node is asked for: an insecure node's, unverified (a secured node's is its certificate's CN; if given, it must be the same)", "node-name")
	f.boolFlag(&m.relay, fmt.Sprintf("relay circuits between other nodes (default %v)", relayDefault), "relay")
}

// errInsecure: a node without certificates needs --insecure.
var errInsecure = errors.New("no TLS: give --cert, --key and --ca (see 'plexus cert'), or --insecure to run a mesh anyone who reaches it may join")

// tlsConfig loads the certificate files of m: nil, nil with --insecure
// and no files.
func (m *meshFlags) tlsConfig() (*tls.Config, error) {
	if m.cert == "" && m.key == "" && m.ca == "" {
		if !m.insecure {
			return nil, errInsecure
		}
		return nil, nil
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--cert", m.cert}, {"--key", m.key}, {"--ca", m.ca}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("TLS needs --cert, --key and --ca: %s missing", strings.Join(missing, " and "))
	}
	cert, err := tls.LoadX509KeyPair(m.cert, m.key)
	if err != nil {
		return nil, fmt.Errorf("--cert %s, --key %s: %w", m.cert, m.key, err)
	}
	caFile := m.ca
	if fi, err := os.Stat(caFile); err == nil && fi.IsDir() {
		caFile = filepath.Join(caFile, "ca.crt")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool, MinVersion: tls.VersionTLS13}, nil
}

// checkNodeName checks a node name given to flag: what mesh.CheckNodeName
// allows, with a hint for capitals (names are lower case).
func checkNodeName(flag, name string) error {
	err := mesh.CheckNodeName(name)
	if err == nil {
		return nil
	}
	if lower := strings.ToLower(name); lower != name && mesh.CheckNodeName(lower) == nil {
		return fmt.Errorf("%s %q: node names are lower case: %s %s", flag, name, flag, lower)
	}
	return fmt.Errorf("%s %q: a node name is 1 to 63 of a-z, 0-9, '-' and '.', starting with a letter or digit, and not 16 hex digits (which read as a node id)", flag, name)
}

// certCN is the node name the certificate of cfg gives (its CN, lower
// case, as the mesh reads it), or "" when it has none or cannot be read.
func certCN(cfg *tls.Config) string {
	if len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		return ""
	}
	name := strings.ToLower(leaf.Subject.CommonName)
	if mesh.CheckNodeName(name) != nil {
		return ""
	}
	return name
}

// linkAddr reads a link address: HOST:PORT, or tcp://HOST:PORT.
func linkAddr(flag, s string) (string, error) {
	addr := s
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if scheme != "tcp" {
			return "", fmt.Errorf("--%s %s: links run over tcp:// only", flag, s)
		}
		addr = rest
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("--%s %q: want HOST:PORT or tcp://HOST:PORT", flag, s)
	}
	return net.JoinHostPort(host, port), nil
}

// validMeshName reports whether s is a mesh name the handshake can
// carry: 1 to 64 letters, digits, '.', '_' or '-'.
func validMeshName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// check validates the addresses and the name of m before anything
// starts.
func (m *meshFlags) check(listenFlag string) error {
	if m.name != "" && !validMeshName(m.name) {
		return fmt.Errorf("--name %q: a mesh name is 1 to 64 letters, digits, '.', '_' or '-'", m.name)
	}
	if m.nodeName != "" {
		if err := checkNodeName("--node-name", m.nodeName); err != nil {
			return err
		}
	}
	for _, s := range m.listen {
		if _, err := linkAddr(listenFlag, s); err != nil {
			return err
		}
	}
	for _, s := range m.join {
		if _, err := linkAddr("join", s); err != nil {
			return err
		}
	}
	if len(m.advertise) > 4 {
		return fmt.Errorf("--advertise: %d addresses, at most 4", len(m.advertise))
	}
	for _, s := range m.advertise {
		if err := mesh.CheckAdvertise(s); err != nil {
			return fmt.Errorf("--advertise %q: want HOST:PORT where other nodes can reach this node's --listen (at most 64 bytes, a port from 1 to 65535)", s)
		}
	}
	return nil
}

// started is a running node made from meshFlags.
type started struct {
	node   *mesh.Node
	secure bool
	listen []string // the addresses it accepts links on, as bound (tcp://...)
	begun  time.Time
}

// start makes the node m asks for, starts its listeners and joins. On an
// error nothing is left running.
func (m *meshFlags) start(ctx context.Context, log *slog.Logger, listenFlag string) (*started, error) {
	if err := m.check(listenFlag); err != nil {
		return nil, err
	}
	cfg, err := m.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts := []mesh.Option{mesh.WithRelay(m.relay), mesh.WithLogger(log), mesh.WithDirect(m.direct), mesh.WithResume(m.resume)}
	if m.resumeWindow > 0 {
		opts = append(opts, mesh.WithResumeWindow(m.resumeWindow))
	}
	if len(m.advertise) > 0 {
		opts = append(opts, mesh.WithAdvertise(m.advertise...))
	}
	if m.name != "" {
		opts = append(opts, mesh.WithName(m.name))
	}
	if m.nodeName != "" {
		opts = append(opts, mesh.WithNodeName(m.nodeName))
	}
	if cfg != nil {
		if cn := certCN(cfg); m.nodeName != "" && m.nodeName != cn {
			return nil, fmt.Errorf("--node-name %s: a secured node's name is its certificate's common name, %q here (%s): leave --node-name out, or make a certificate with 'plexus cert node --name %s'", m.nodeName, cn, m.cert, m.nodeName)
		}
		opts = append(opts, mesh.WithTLS(cfg))
	} else {
		opts = append(opts, mesh.WithInsecure()) // the node warns, once
	}
	if m.certPolicy {
		opts = append(opts, mesh.WithCertPolicy()) // New refuses it without TLS
	}
	if m.revoked != "" {
		opt, err := revocationOption(m.revoked)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	n, err := mesh.New(opts...)
	if err != nil {
		return nil, err
	}
	s := &started{node: n, secure: cfg != nil, begun: time.Now()}
	var lc net.ListenConfig
	for _, l := range m.listen {
		addr, _ := linkAddr(listenFlag, l)
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("--%s %s: %w", listenFlag, l, err)
		}
		if err := n.Serve(ln); err != nil {
			ln.Close()
			n.Close()
			return nil, fmt.Errorf("--%s %s: %w", listenFlag, l, err)
		}
		bound := "tcp://" + ln.Addr().String()
		s.listen = append(s.listen, bound)
		log.Info("accepting links", "addr", bound)
	}
	for _, j := range m.join {
		addr, _ := linkAddr("join", j)
		if err := n.Join("tcp", addr); err != nil {
			n.Close()
			return nil, fmt.Errorf("--join %s: %w", j, err)
		}
		log.Info("joining", "addr", addr)
	}
	return s, nil
}
