package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/mux"
)

// catCommand is `plexus cat`, netcat for the mesh.
func catCommand() *command {
	cmd := &command{
		name:    "cat",
		summary: "connect standard input and output to a mesh stream, as netcat",
		help: `usage: plexus cat --join HOST:PORT... (--cert FILE --key FILE --ca FILE | --insecure) ADDR
       plexus cat --join HOST:PORT... (--cert FILE --key FILE --ca FILE | --insecure) --listen NAME

Joins the mesh as a short-lived node (the link and TLS flags of 'plexus
node') and connects standard input and output to one mesh stream, as
netcat does:

  plexus cat ADDR          dial ADDR: a service (echo), a service on a port
                           (echo:80) or a host and port, the host by id
                           (ac9cf68e5aeab6da:80) or by node name (web-1:80)
  plexus cat --listen NAME offer service NAME (or NAME:PORT, or :PORT) and serve
                           one connection; the name is withdrawn once it comes

Standard input's end is passed on as a half-close, and the command exits
once both directions are done: the far end has ended the stream, and
standard input has ended (or the far end has closed, or standard input
is a terminal). A dial waits up to --timeout for the route or the
service to appear, since the node has just joined; if the node has no
link then, the error says so with why its join failed, and a join that
is refused (another CA, mesh name or security) fails at once. Nothing is
logged below WARN unless --log-level says so.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &catOptions{cmd: cmd, timeout: 10 * time.Second}
		fs := newFlagSet("cat")
		fs.stringFlag(&o.listen, "NAME", "serve one connection to service NAME (NAME:PORT, :PORT) instead of dialing", "listen")
		fs.varFlag(durationValue{&o.timeout, nil}, "D", "10s", "how long to wait for the destination, or for the connection with --listen (0: for ever with --listen)", "timeout")
		fs.mesh(&o.mesh, meshFlagNames{listen: "mesh-listen"}, false)
		fs.loggingAt("warn")
		return fs, o.run
	}
	return cmd
}

// catOptions are the flags of plexus cat.
type catOptions struct {
	cmd     *command
	mesh    meshFlags
	listen  string
	timeout time.Duration
}

func (o *catOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	var addr string
	switch {
	case o.listen != "" && len(fs.args) > 0:
		return usagef(o.cmd, "give ADDR or --listen NAME, not both")
	case o.listen == "" && len(fs.args) == 0:
		return usagef(o.cmd, "an address to dial is needed (service, service:port or host:port), or --listen NAME")
	case len(fs.args) > 1:
		return usagef(o.cmd, "unexpected argument %q", fs.args[1])
	case len(fs.args) == 1:
		addr = fs.args[0]
	}
	if len(o.mesh.join) == 0 && len(o.mesh.listen) == 0 {
		return usagef(o.cmd, "a mesh to join is needed: --join HOST:PORT (or --mesh-listen tcp://HOST:PORT)")
	}
	if err := o.mesh.check("mesh-listen"); err != nil {
		return usagef(o.cmd, "%v", err)
	}
	if _, err := o.mesh.tlsConfig(); errors.Is(err, errInsecure) {
		return usagef(o.cmd, "%v", err)
	}
	log := fs.logger
	s, err := o.mesh.start(ctx, log, "mesh-listen")
	if err != nil {
		return err
	}
	defer s.node.Close()
	var conn net.Conn
	if o.listen != "" {
		conn, err = catAccept(ctx, s.node, o.listen, o.timeout, log)
	} else {
		conn, err = catDial(ctx, s.node, addr, o.timeout, log)
	}
	if err != nil {
		return err
	}
	err = catCopy(ctx, conn, c.stdin, c.stdout, log)
	flushSession(conn)
	return err
}

// flushSession closes the mux session that carries conn, which delivers
// what is queued on it (our half-close) before the node closes. A node
// that closes right after a stream closes can otherwise lose the stream's
// last frames on their way through a relay, and the far end reads a
// reset instead of the end of the stream. The session is this
// short-lived node's own, to a neighbour or through a circuit.
func flushSession(conn net.Conn) {
	if s, ok := conn.(interface{ Session() *mux.Session }); ok {
		s.Session().Close()
	}
}

// catDial dials addr, waiting up to timeout for a route or the service
// to appear.
func catDial(ctx context.Context, n *mesh.Node, addr string, timeout time.Duration, log *slog.Logger) (net.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var conn net.Conn
	err := dialWait(ctx, n, addr, log, func(ctx context.Context) error {
		a, err := meshAddr(n, addr)
		if err != nil {
			return err
		}
		conn, err = n.DialContext(ctx, "", a)
		return err
	})
	if err != nil {
		return nil, waited(err, timeout)
	}
	log.Debug("connected", "addr", addr, "remote", conn.RemoteAddr().String())
	return conn, nil
}

// meshAddr is the mesh address a person means by addr: a HOST:PORT
// whose host is a node's name (mesh.Node.Resolve) becomes the node's
// id:PORT. Anything else is left as it is: an id, a service name (the
// mesh dials the nearest instance), a port alone. A name is a node's
// only when the node knows a node of that name: one whose record has not
// come yet is taken for a service, and the dial waits for either. A
// node's name without a port is a service of that name if one is known,
// else an error that asks for the port; a name of several nodes is
// mesh.ErrAmbiguousName, listing them.
func meshAddr(n *mesh.Node, addr string) (string, error) {
	host, port, hasPort := addr, "", false
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host, port, hasPort = addr[:i], addr[i+1:], true
	}
	if host == "" || isNodeID(host) || mesh.CheckNodeName(host) != nil {
		return addr, nil
	}
	named := false
	for _, tn := range n.Topology().Nodes {
		if tn.Name == host {
			named = true
			break
		}
	}
	if !named {
		return addr, nil
	}
	if !hasPort {
		for _, s := range n.Services() {
			if s.Name == host {
				return addr, nil
			}
		}
	}
	id, err := n.Resolve(host)
	if err != nil {
		return "", err
	}
	if !hasPort {
		return "", fmt.Errorf("%w: %q is the node %s, not a service: give a port, %s:PORT", mesh.ErrBadAddress, host, n.Describe(id), host)
	}
	return mesh.FormatID(id) + ":" + port, nil
}

// waited adds to err, the error of a dialWait that waited d, how long it
// waited, if it did.
func waited(err error, d time.Duration) error {
	switch {
	case !errors.Is(err, errWaited):
		return err
	case errors.Is(err, errNoLink):
		return fmt.Errorf("%w (waited %v for a link)", err, d)
	}
	return fmt.Errorf("%w (waited %v for the mesh to show it)", err, d)
}

// errWaited marks a dial that waited until its context ended for its
// destination to appear.
var errWaited = errors.New("waited for the destination")

// errNoLink marks a dial that failed because the node has no live link:
// the mesh is out of its reach, whatever the destination.
var errNoLink = errors.New("no live link to the mesh")

// noLink returns nil when n has a live link; otherwise an error that is
// errNoLink and says why, with the last error of the node's joins (see
// mesh.Node.JoinError), which errors.Is finds too.
func noLink(n *mesh.Node) error {
	if len(n.Links()) > 0 {
		return nil
	}
	if err := n.JoinError(); err != nil {
		return fmt.Errorf("%w: %w", errNoLink, err)
	}
	return errNoLink
}

// joinRefused reports whether err is a link handshake that a peer
// refused, or that this node refused: a wrong CA, another mesh name, one
// side secured and not the other, another protocol version. Trying again
// gives the same answer.
func joinRefused(err error) bool {
	return errors.Is(err, mesh.ErrNotAuthorized) || errors.Is(err, mesh.ErrMeshMismatch) ||
		errors.Is(err, mesh.ErrVersion) || errors.Is(err, mesh.ErrIDMismatch)
}

// dialWait calls dial, a dial of addr on n. While the mesh knows no route
// or no instance of the service (a node that has just joined, a service
// not announced yet), it tries again, more and more slowly, until ctx
// ends; the error is then marked with errWaited, and is the last dial's
// if the node has a live link, or else noLink's. A join that has been
// refused (see joinRefused) ends the wait at once, with noLink's error.
func dialWait(ctx context.Context, n *mesh.Node, addr string, log *slog.Logger, dial func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for {
		err := dial(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, mesh.ErrNoRoute) && !errors.Is(err, mesh.ErrNoService) {
			return err
		}
		nl := noLink(n)
		if nl != nil && joinRefused(nl) {
			return nl
		}
		log.Debug("waiting for the destination", "addr", addr, "err", err, "link", nl)
		if sleep(ctx, wait) != nil {
			if nl = noLink(n); nl != nil {
				err = nl
			}
			return &waitedError{err}
		}
		wait = min(2*wait, time.Second)
	}
}

// waitedError is the last error of a dialWait that ran out of time.
type waitedError struct{ err error }

func (e *waitedError) Error() string   { return e.err.Error() }
func (e *waitedError) Unwrap() []error { return []error{e.err, errWaited} }

// catAccept offers name and returns the first connection to it; the
// name is withdrawn at once.
func catAccept(ctx context.Context, n *mesh.Node, name string, timeout time.Duration, log *slog.Logger) (net.Conn, error) {
	ln, err := n.Listen("", name)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", name, err)
	}
	defer ln.Close()
	log.Info("listening", "service", name, "addr", ln.Addr().String())
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	conn, err := ln.Accept()
	if err != nil {
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("--listen %s: no connection within %v", name, timeout)
			}
			return nil, ctx.Err()
		}
		return nil, err
	}
	log.Debug("accepted", "remote", conn.RemoteAddr().String())
	return conn, nil
}

// catCopy copies in to conn and conn to out until both directions are
// done: the end of in is passed on as a half-close, and the far end's as
// the end of out. A far end that closes the stream before in ends makes
// the next send fail, which ends the copy too; when in is a terminal,
// the far end's end is the end. It closes conn.
func catCopy(ctx context.Context, conn net.Conn, in io.Reader, out io.Writer, log *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if err == nil {
			if cw, ok := conn.(closeWriter); ok {
				err = cw.CloseWrite()
			}
		}
		sent <- err
	}()
	_, err := io.Copy(out, conn)
	if ctx.Err() != nil {
		return nil // SIGINT, SIGTERM: a clean end
	}
	if err != nil {
		conn.Close()
		<-sent
		return err
	}
	if isTerminal(in) {
		// Someone types: the far end is done, so is the session, as
		// netcat's. Their next line would only fail to send.
		return nil
	}
	if err := <-sent; err != nil && ctx.Err() == nil {
		// The far end is done and closed the stream before standard
		// input ended: what was left had nowhere to go.
		log.Debug("the far end closed before standard input ended", "err", err)
	}
	return nil
}

// isTerminal reports whether r is a terminal (a character device).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
