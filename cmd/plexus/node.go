package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/metrics/prom"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// defaultHTTP is where plexus node serves its status page and API unless
// told otherwise: loopback only.
const defaultHTTP = "127.0.0.1:7070"

// nodeCommand is `plexus node`.
func nodeCommand() *command {
	cmd := &command{
		name:    "node",
		summary: "run a mesh node: links, relaying, sidecars, status page",
		help: `usage: plexus node [--config FILE] [--listen tcp://HOST:PORT]... [--join HOST:PORT]... (--cert FILE --key FILE --ca FILE [--revoked FILE] | --insecure)
                   [--name NAME] [--node-name NAME] [--relay=false] [--cert-policy] [--http ADDR]
                   [--advertise HOST:PORT]... [--direct=false] [--resume [--resume-window D]]
                   [--expose NAME=HOST:PORT]... [--allow-groups NAME[,NAME]] [--forward HOST:PORT=NAME]...

Runs a mesh node until SIGINT or SIGTERM, then stops accepting, lets the
proxied connections finish (up to --drain), closes its links and exits 0.

The node accepts links on the --listen addresses and keeps a link to each
--join address, redialing with backoff while that node is down. It is
secured with the certificate of 'plexus cert node' (--cert, --key) and the
mesh CA (--ca); without them it refuses to start unless --insecure is
given. --revoked gives it the mesh's revocation list ('plexus cert
revoke'), which it floods to the other nodes. SIGHUP reads the
certificate files and the revocation list again.

--config FILE reads the flags from a TOML file, one key per flag under
the flag's name (listen = ["tcp://0.0.0.0:7000"], relay = false,
drain = "10s"); a flag on the command line overrides its key. An unknown
key or a value of the wrong type is an error naming the file, the line and
the key. SIGHUP reads the file again: a change of cert, key, ca or revoked
is applied, a change of any other key is logged as needing a restart.

A node has a name besides its id, shown as "name (id8)" in the logs, in
'plexus status' and on the status page, and accepted wherever a command
asks for a node: a secured node's is its certificate's common name ('plexus
cert node --name'), which the CA vouches for; an insecure node's is
--node-name, 1 to 63 of a-z, 0-9, '-' and '.', which nobody vouches for
(shown as unverified). A secured node's --node-name, if given, must be
its certificate's name.

--advertise HOST:PORT puts, in the node's routing record, an address where
other nodes can reach one of its --listen addresses (a public address, a
port forwarded through NAT; at most 4). A node that talks to this one
through a relay then dials it there and the two become neighbours: new
connections go direct, and those already open through the relay stay on
it until they end. When only this node advertises, the far node is asked
through the circuit to dial back. The dialed node must prove the expected
id (its certificate's), or the link is refused; each advertised address
is dialed at most 3 times a minute. --direct=false turns the upgrade off.
'plexus status' shows which links are direct.

--resume makes the links of --join and --listen resumable (both ends need
it; a node without it links as before): when a link's connection breaks
(a reset, an address change, a laptop that slept), the joining side
redials and the link resumes over the new connection, after the same
authentication, from the last byte each end received; its connections and
the circuits through it pause, then carry on. --resume-window (default
30s) is how long a broken link waits; past it, it fails as without
--resume.

--cert-policy makes the node believe a service only from a node whose
certificate names it ('plexus cert node --service'): a member can no longer
draw the dials by name to a name it was not given, and a node whose
certificate names no service is believed to serve none, so reissue the
certificates with names before turning it on. 'plexus status' shows it.

Sidecars put programs that are not written in Go on the mesh:

  --expose NAME=HOST:PORT   publish the local TCP service HOST:PORT as mesh service NAME:
                            each mesh connection to NAME is proxied to HOST:PORT
  --forward HOST:PORT=NAME  listen on local TCP HOST:PORT and carry each connection
                            to mesh service NAME

A half-close (shutdown of one direction) is carried both ways.

--allow-groups admits to the --expose services only callers whose
certificate names one of the groups ('plexus cert node --group'), by name
or by host:port; the others are refused (not authorized) before any
connection to HOST:PORT is made. It needs TLS.

--http serves, on loopback by default, the live status page (/), its JSON
API (` + status.APIPath + `), which 'plexus status' reads, and the node's
Prometheus metrics (/metrics). It listens on the network only at an
address given explicitly; --http '' turns it off. While it serves, the
node notes every second what changed (links up and down, nodes reachable
or lost, services added and withdrawn, join errors): the page's events,
the last 200.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &nodeOptions{cmd: cmd, http: defaultHTTP, drain: 5 * time.Second}
		fs := newFlagSet("node")
		fs.heading("config file")
		fs.configFlag(&o.config)
		fs.mesh(&o.mesh, meshFlagNames{listen: "listen"}, true)
		fs.stringFlag(&o.mesh.revoked, "FILE", "a revocation list of the mesh CA ('plexus cert revoke'), read again on SIGHUP", "revoked")
		fs.varFlag(listValue{&o.mesh.advertise, false}, "HOST:PORT", "", "advertise this address, where other nodes reach a --listen of this node, so that a node with a relayed circuit to this one may link to it directly (repeatable, at most 4)", "advertise")
		fs.boolFlag(&o.mesh.direct, "upgrade relayed pairs to direct links: dial the addresses a far host advertises, or ask it to dial back (default true; --direct=false: never)", "direct")
		fs.boolFlag(&o.mesh.resume, "resumable links and circuits: a link whose connection breaks is redialed and resumed, a circuit whose relay dies is resumed along another path or moved onto a direct link, their connections kept (both ends need it; costs bulk throughput, see docs/mesh.md)", "resume")
		fs.varFlag(durationValue{&o.mesh.resumeWindow, nil}, "D", "30s", "with --resume, how long a broken link waits to be resumed before it and everything on it fail", "resume-window")
		fs.heading("status page and sidecars")
		fs.stringFlag(&o.http, "ADDR", "serve the status page, JSON API and /metrics on ADDR ('': not at all)", "http")
		fs.varFlag(listValue{&o.expose, false}, "NAME=HOST:PORT", "", "mesh service NAME proxied to local TCP HOST:PORT (repeatable)", "expose")
		fs.varFlag(listValue{&o.allowGroups, true}, "NAME[,NAME]", "", "admit to the --expose services only callers whose certificate names one of these groups (repeatable)", "allow-groups")
		fs.varFlag(listValue{&o.forward, false}, "HOST:PORT=NAME", "", "local TCP listener on HOST:PORT, each connection carried to mesh service NAME (repeatable)", "forward")
		fs.varFlag(durationValue{&o.drain, nil}, "D", "5s", "on SIGINT or SIGTERM, wait up to D for proxied connections to end", "drain")
		fs.logging()
		return fs, o.run
	}
	return cmd
}

// nodeOptions are the flags of plexus node.
type nodeOptions struct {
	cmd     *command
	mesh    meshFlags
	http    string
	expose  []string
	forward []string
	drain   time.Duration
	// allowGroups: the --expose services admit only callers of these
	// groups (mesh.AllowGroups); nil: anyone.
	allowGroups []string
	// config is the --config file, read again on SIGHUP.
	config string
}

// exposeSpec is one --expose: mesh service name to local TCP address.
type exposeSpec struct{ name, addr string }

// forwardSpec is one --forward: local TCP address to mesh service name.
type forwardSpec struct{ addr, name string }

// checkHostPort checks a HOST:PORT of a sidecar flag.
func checkHostPort(flag, spec, addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("--%s %q: %q is not HOST:PORT", flag, spec, addr)
	}
	return nil
}

// parseSidecars reads --expose and --forward.
func (o *nodeOptions) parseSidecars() ([]exposeSpec, []forwardSpec, error) {
	var ex []exposeSpec
	var fw []forwardSpec
	for _, s := range o.expose {
		name, addr, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("--expose %q: want NAME=HOST:PORT", s)
		}
		if err := checkHostPort("expose", s, addr); err != nil {
			return nil, nil, err
		}
		ex = append(ex, exposeSpec{name, addr})
	}
	for _, s := range o.forward {
		i := strings.LastIndex(s, "=")
		if i < 0 || i == len(s)-1 {
			return nil, nil, fmt.Errorf("--forward %q: want HOST:PORT=NAME", s)
		}
		addr, name := s[:i], s[i+1:]
		if err := checkHostPort("forward", s, addr); err != nil {
			return nil, nil, err
		}
		fw = append(fw, forwardSpec{addr, name})
	}
	return ex, fw, nil
}

// run runs the node until ctx ends.
func (o *nodeOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	if len(fs.args) > 0 {
		return usagef(o.cmd, "unexpected argument %q", fs.args[0])
	}
	ex, fw, err := o.parseSidecars()
	if err != nil {
		return usagef(o.cmd, "%v", err)
	}
	if err := o.mesh.check("listen"); err != nil {
		return usagef(o.cmd, "%v", err)
	}
	if fs.set("allow-groups") && len(ex) == 0 {
		return usagef(o.cmd, "--allow-groups applies to the --expose services: give --expose NAME=HOST:PORT")
	}
	if fs.set("allow-groups") && len(o.allowGroups) == 0 {
		return usagef(o.cmd, "--allow-groups needs a group name")
	}
	cfg, err := o.mesh.tlsConfig()
	if errors.Is(err, errInsecure) {
		return usagef(o.cmd, "%v", err)
	}
	for _, f := range []string{"cert-policy", "allow-groups"} {
		if err == nil && cfg == nil && fs.set(f) {
			return usagef(o.cmd, "--%s needs TLS (--cert, --key and --ca): an --insecure node has no certificates to read services or groups from", f)
		}
	}
	log := fs.logger
	// SIGHUP is caught from the start, so that an early one never kills
	// the node.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	s, err := o.mesh.start(ctx, log, "listen")
	if err != nil {
		return err
	}
	n := s.node
	started := []any{"id", mesh.FormatID(n.ID())}
	if name := n.Info().NodeName; name != "" {
		started = append(started, "node-name", name)
	}
	log.Info("node started", append(started, "name", n.Info().Name, "relay", o.mesh.relay, "secure", s.secure, "cert-policy", n.Info().CertPolicy)...)
	warnCertExpiry(log, o.mesh.cert, n.Info().CertNotAfter, time.Now())
	stopped := false
	defer func() {
		if stopped {
			log.Info("stopped") // last: links, sidecars and the status page are closed
		}
	}()
	sc := newSidecars(n, log)
	sc.allowGroups = o.allowGroups
	defer func() {
		sc.close()
		n.Close()
	}()

	var srv *http.Server
	var srvDone chan struct{}
	if o.http != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", o.http)
		if err != nil {
			return fmt.Errorf("--http %s: %w", o.http, err)
		}
		if host, _, _ := net.SplitHostPort(o.http); host == "" || host == "0.0.0.0" || host == "::" {
			log.Warn("the status page is open to the network", "addr", o.http)
		}
		p, stopEvents := recordEvents(ctx, &nodeProvider{node: n, sidecars: sc})
		defer stopEvents()
		metrics, err := prom.Handler(prom.NewNodeCollector(n),
			collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/", status.Handler(p, status.WithLogger(log)))
		mux.Handle("GET /metrics", metrics)
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		srvDone = make(chan struct{})
		go func() {
			defer close(srvDone)
			srv.Serve(ln)
		}()
		log.Info("status page", "url", "http://"+ln.Addr().String()+"/", "api", "http://"+ln.Addr().String()+status.APIPath,
			"metrics", "http://"+ln.Addr().String()+"/metrics")
	}
	defer func() {
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
			<-srvDone
		}
	}()

	for _, e := range ex {
		if err := sc.expose(ctx, e); err != nil {
			return err
		}
	}
	for _, f := range fw {
		if err := sc.forward(ctx, f); err != nil {
			return err
		}
	}

	for {
		select {
		case <-ctx.Done():
			log.Info("stopping: draining connections", "drain", o.drain.String())
			sc.stopAccepting()
			if !sc.wait(o.drain) {
				log.Warn("drain time over: closing the connections left", "drain", o.drain.String())
			}
			stopped = true
			return nil
		case <-hup:
			o.reloadConfig(fs, log)
			o.reload(n, log)
			o.reloadRevoked(n, log)
		}
	}
}

// tlsReloader is a node that can take a new certificate and CA pool
// without a restart, as (*mesh.Node).ReloadTLS does (tests give a fake).
type tlsReloader interface {
	ReloadTLS(cert tls.Certificate, roots *x509.CertPool) error
}

// reload reads the certificate files again (SIGHUP) and hands them to
// the node.
func (o *nodeOptions) reload(r tlsReloader, log *slog.Logger) {
	cfg, err := o.mesh.tlsConfig()
	switch {
	case err != nil:
		log.Error("SIGHUP: certificate files not reloaded, the node keeps the ones it has", "err", err)
		return
	case cfg == nil:
		log.Info("SIGHUP: the node runs without TLS: nothing to reload")
		return
	}
	if err := r.ReloadTLS(cfg.Certificates[0], cfg.RootCAs); err != nil {
		log.Error("SIGHUP: the mesh refused the new certificate", "err", err)
		return
	}
	log.Info("SIGHUP: certificate reloaded", "cert", o.mesh.cert)
	if leaf := cfg.Certificates[0].Leaf; leaf != nil {
		warnCertExpiry(log, o.mesh.cert, leaf.NotAfter, time.Now())
	}
}

// warnCertExpiry logs at WARN, as plexus status and the page show it, that
// the node's certificate expires within certWarn (30 days) or has
// expired; a zero notAfter (no TLS) or a later one logs nothing.
func warnCertExpiry(log *slog.Logger, cert string, notAfter, now time.Time) {
	if notAfter.IsZero() {
		return
	}
	switch d := notAfter.Sub(now); {
	case d <= 0:
		log.Warn("certificate EXPIRED: renew it ('plexus cert node --renew'), then send the node SIGHUP", "cert", cert, "not-after", notAfter.UTC().Format(time.DateOnly))
	case d < certWarn:
		log.Warn("certificate expires soon: renew it ('plexus cert node --renew'), then send the node SIGHUP", "cert", cert, "not-after", notAfter.UTC().Format(time.DateOnly), "in", days(d))
	}
}
