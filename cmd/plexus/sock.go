package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/protocol/pair"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
	meshtp "github.com/plexusnet/plexus/transport/mesh"
)

// Errors of plexus sock, for errors.Is.
var (
	// errMeshURL: mesh:// URLs need a mesh to join (--join or
	// --mesh-listen).
	errMeshURL = errors.New("mesh:// URLs need a mesh to join: --join HOST:PORT (or --mesh-listen tcp://HOST:PORT)")
	// errNoPeer: a send waited for a peer past --send-timeout.
	errNoPeer = errors.New("no peer to send to")
)

// sockProtocols returns the protocols of plexus sock, in help order:
// each is a flag with 0 after it, and without.
func sockProtocols() []string {
	return []string{"req", "rep", "pub", "sub", "push", "pull", "surveyor", "respondent", "pair", "bus"}
}

// sockSchemes returns the URL schemes plexus sock knows, sorted: the
// registered transports' and mesh, which it gives its sockets itself.
func sockSchemes() []string {
	s := append(transport.Schemes(), meshtp.Scheme)
	slices.Sort(s)
	return s
}

// sockCommand is `plexus sock`, the nngcat of plexus.
func sockCommand() *command {
	cmd := &command{
		name:    "sock",
		summary: "a message socket on the command line: the nngcat of plexus",
		help: `usage: plexus sock <protocol> (--dial URL | --listen URL)... [--data DATA | --file FILE]
                   [--format FORMAT] [--count N] [--interval D] [--delay D] [--subscribe TOPIC]...

Opens a message socket of one protocol, dials or listens on URLs (tcp://,
ipc://, ws://, tls+tcp://, mesh://), then sends and receives as nngcat does, with
its flags (long and short) and output formats, byte for byte:

  push, pub              send DATA once, or --count times, every --interval
  pull, sub              print what arrives (sub: the --subscribe topics, all by default)
  req, surveyor          send DATA and print the replies (until --recv-timeout,
                         the survey's end, or the reply to a req), every --interval
  rep, respondent        print requests; with DATA, answer each with it
  pair, bus              print what arrives; with DATA, send it too, every --interval

Received messages are printed only with a format (--format or its short
forms): nngcat prints nothing by default. Durations (--interval, --delay,
--recv-timeout, --send-timeout) are whole seconds, as nngcat takes, or Go
durations such as 250ms. The command ends when it has done --count
messages, when a receive times out (status 0), on SIGINT or SIGTERM
(status 0), or on an error (status 1).

mesh:// URLs (mesh://SERVICE, mesh://SERVICE:PORT, mesh://HOST:PORT,
mesh://:PORT; HOST is a node id or a node's name) join the mesh as a
short-lived node, with the node flags of 'plexus node': --join,
--mesh-listen (its --listen), --ca, --name, and --cert, --key and
--insecure, which serve tls+tcp:// too. A dial to a mesh:// URL waits up
to 10s for the route or the service to appear, and fails as 'plexus cat'
does when the node has no link. Nothing is logged below WARN unless
--log-level says so.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &sockOptions{cmd: cmd}
		return o.flags(), o.run
	}
	return cmd
}

// sockAddr is an address to dial or listen on.
type sockAddr struct {
	listen bool
	url    string
}

// sockOptions are the flags of plexus sock.
type sockOptions struct {
	cmd      *command
	proto    string // "req", "rep", ...: from the protocol flags
	addrs    []sockAddr
	format   msgFormat
	fmtSet   bool
	data     []byte
	dataFile string // --file, read when the command runs
	dataSet  bool
	topics   []string
	count    int
	delay    time.Duration
	interval time.Duration
	every    bool // --interval was given
	recvTO   time.Duration
	sendTO   time.Duration
	recvMax  int
	verbose  bool
	silent   bool
	cert     string
	key      string
	cacert   string
	insecure bool
	mesh     meshFlags // for mesh:// URLs; its TLS files are cert, key and insecure
}

// flags makes the flag set of plexus sock, bound to o.
func (o *sockOptions) flags() *flagSet {
	fs := newFlagSet("sock")
	fs.heading("protocol (exactly one)")
	for _, p := range sockProtocols() {
		names := []string{p + "0", p}
		if p == "pair" {
			names = []string{"pair0", "pair"}
		}
		fs.varFlag(protoFlag{o, p}, "", "", "a "+p+" socket (NNG's "+p+"0)", names...)
	}
	fs.varFlag(unsupportedFlag("not supported: plexus has pair v0 (--pair0)"), "", "", "refused: plexus has pair v0 only", "pair1")

	fs.heading("addresses (at least one; repeatable)")
	fs.varFlag(addrFlag{o, false, ""}, "URL", "", "dial URL (tcp://host:port, ipc:///path, ws://host:port/path, tls+tcp://host:port, mesh://service)", "dial", "connect")
	fs.varFlag(addrFlag{o, true, ""}, "URL", "", "listen on URL (tcp://127.0.0.1:0 picks a port: see --verbose)", "listen", "bind")
	fs.varFlag(addrFlag{o, false, "local"}, "PORT", "", "dial tcp://127.0.0.1:PORT", "connect-local", "l")
	fs.varFlag(addrFlag{o, true, "local"}, "PORT", "", "listen on tcp://127.0.0.1:PORT", "bind-local", "L")
	fs.varFlag(addrFlag{o, false, "ipc"}, "PATH", "", "dial ipc:///PATH", "connect-ipc", "x")
	fs.varFlag(addrFlag{o, true, "ipc"}, "PATH", "", "listen on ipc:///PATH", "bind-ipc", "X")

	fs.heading("what to send (once)")
	fs.varFlag(dataFlag{o, false}, "DATA", "", "the message to send", "data", "D")
	fs.varFlag(dataFlag{o, true}, "FILE", "", "send the contents of FILE (- for standard input)", "file", "F")

	fs.heading("output format of received messages (at most one)")
	fs.varFlag(formatFlag{o, formatFlagValue}, "FORMAT", "no", "no, raw, ascii, quoted, hex or msgpack", "format")
	fs.varFlag(formatFlag{o, formatRaw}, "", "", "--format raw: the bytes, nothing between messages", "raw")
	fs.varFlag(formatFlag{o, formatASCII}, "", "", "--format ascii: non-printable bytes as '.', nothing between messages", "ascii", "A")
	fs.varFlag(formatFlag{o, formatQuoted}, "", "", "--format quoted: a C string per line", "quoted", "Q")
	fs.varFlag(formatFlag{o, formatHex}, "", "", "--format hex: \"\\xNN...\" per line", "hex")
	fs.varFlag(formatFlag{o, formatMsgpack}, "", "", "--format msgpack: a msgpack bin per message", "msgpack")

	fs.heading("options")
	fs.varFlag(listValue{&o.topics, false}, "TOPIC", "", "sub: subscribe to TOPIC (repeatable; default: everything)", "subscribe")
	fs.varFlag(intValue{&o.count, 1<<31 - 1}, "N", "", "send or receive N messages, then stop (0: no limit)", "count", "C")
	fs.varFlag(durationValue{&o.delay, nil}, "D", "", "wait D before the first send", "delay", "d")
	fs.varFlag(durationValue{&o.interval, &o.every}, "D", "", "send again every D (default: send once)", "interval", "i")
	fs.varFlag(durationValue{&o.recvTO, nil}, "D", "", "stop when no message arrives for D (default: wait forever)", "recv-timeout")
	fs.varFlag(durationValue{&o.sendTO, nil}, "D", "", "fail when a send waits D (default: wait forever)", "send-timeout")
	fs.varFlag(intValue{&o.recvMax, 1<<31 - 1}, "SIZE", "1048576", "largest message accepted, bytes (0: 2 GiB)", "recv-maxsz", "Z")
	fs.boolFlag(&o.verbose, "print 'Connected to: URL' and 'Listening at: URL' (the port bound), as nngcat -v", "verbose", "v")
	fs.boolFlag(&o.silent, "print no connection messages (the default)", "silent", "q")
	for _, name := range []string{"compat", "async", "zt-home", "socket-name"} {
		fs.fs.Var(unsupportedFlag("not supported by plexus sock"), name, "")
	}

	fs.heading("TLS (tls+tcp://)")
	fs.stringFlag(&o.cert, "FILE", "certificate (PEM) to present; needed to listen", "cert", "E")
	fs.stringFlag(&o.key, "FILE", "its key (PEM; default: in the --cert file)", "key")
	fs.stringFlag(&o.cacert, "FILE", "CA certificates (PEM) to verify the peer with (default: the system's)", "cacert")
	fs.boolFlag(&o.insecure, "do not verify the peer's certificate (mesh://: run the node without TLS)", "insecure", "k")
	fs.mesh(&o.mesh, meshFlagNames{listen: "mesh-listen", sharedTLS: true}, false)
	fs.loggingAt("warn")
	return fs
}

// protoFlag is one of the protocol flags.
type protoFlag struct {
	o    *sockOptions
	name string
}

func (f protoFlag) Set(v string) error {
	if on, err := strconv.ParseBool(v); err != nil || !on {
		return errors.New("a protocol flag takes no value")
	}
	if f.o.proto != "" && f.o.proto != f.name {
		return fmt.Errorf("only one protocol may be given (--%s0 and --%s0)", f.o.proto, f.name)
	}
	f.o.proto = f.name
	return nil
}
func (f protoFlag) String() string   { return "" }
func (f protoFlag) IsBoolFlag() bool { return true }

// addrFlag is one of the address flags; kind "local" takes a port,
// "ipc" a path, "" a URL.
type addrFlag struct {
	o      *sockOptions
	listen bool
	kind   string
}

func (f addrFlag) Set(v string) error {
	switch f.kind {
	case "local":
		port, err := strconv.Atoi(v)
		if err != nil || port < 0 || port > 65535 {
			return fmt.Errorf("%q is not a port", v)
		}
		v = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	case "ipc":
		v = "ipc:///" + strings.TrimPrefix(v, "/")
	}
	f.o.addrs = append(f.o.addrs, sockAddr{listen: f.listen, url: v})
	return nil
}
func (f addrFlag) String() string { return "" }

// dataFlag is --data or --file.
type dataFlag struct {
	o    *sockOptions
	file bool
}

func (f dataFlag) Set(v string) error {
	if f.o.dataSet {
		return errors.New("data (--file, --data) may be given only once")
	}
	f.o.dataSet = true
	if f.file {
		f.o.dataFile = v
	} else {
		f.o.data = []byte(v)
	}
	return nil
}
func (f dataFlag) String() string { return "" }

// formatFlag is --format (f < 0) or one of its short forms.
type formatFlag struct {
	o *sockOptions
	f msgFormat
}

func (f formatFlag) Set(v string) error {
	if f.o.fmtSet {
		return errors.New("the format may be given only once")
	}
	if f.f == formatFlagValue {
		pf, err := parseFormat(v)
		if err != nil {
			return err
		}
		f.o.format = pf
	} else {
		if on, err := strconv.ParseBool(v); err != nil || !on {
			return errors.New("a format flag takes no value")
		}
		f.o.format = f.f
	}
	f.o.fmtSet = true
	return nil
}
func (f formatFlag) String() string   { return "" }
func (f formatFlag) IsBoolFlag() bool { return f.f != formatFlagValue }

// formatFlagValue marks the formatFlag of --format itself.
const formatFlagValue msgFormat = 255

// unsupportedFlag is an nngcat flag plexus sock refuses, with a reason.
type unsupportedFlag string

func (f unsupportedFlag) Set(string) error { return errors.New(string(f)) }
func (f unsupportedFlag) String() string   { return "" }
func (f unsupportedFlag) IsBoolFlag() bool { return true }

// check validates the flags as nngcat does, and a little more.
func (o *sockOptions) check() error {
	u := func(format string, args ...any) error { return usagef(o.cmd, format, args...) }
	if o.proto == "" {
		return u("no protocol given: one of --%s", strings.Join(sockProtocols(), "0, --")+"0")
	}
	if len(o.addrs) == 0 {
		return u("no address given: --dial URL or --listen URL")
	}
	for _, a := range o.addrs {
		pu, err := url.Parse(a.url)
		if err != nil {
			return u("%q: %v", a.url, err)
		}
		switch pu.Scheme {
		case "mesh":
			if len(o.mesh.join) == 0 && len(o.mesh.listen) == 0 {
				return &usageError{cmd: o.cmd.path(), err: fmt.Errorf("%s: %w", a.url, errMeshURL)}
			}
		case "inproc":
			return u("%s: inproc:// reaches sockets of the same process only: use ipc:// or tcp://", a.url)
		case "tls+tcp":
			if a.listen && o.cert == "" {
				return u("%s: listening on tls+tcp:// needs --cert (and --key)", a.url)
			}
		default:
			if _, ok := transport.Lookup(pu.Scheme); !ok {
				return &usageError{cmd: o.cmd.path(), err: fmt.Errorf("%s: %w %q (known: %s)", a.url, transport.ErrUnknownScheme, pu.Scheme, strings.Join(sockSchemes(), ", "))}
			}
		}
	}
	if o.usesMesh() {
		o.mesh.cert, o.mesh.key, o.mesh.insecure = o.cert, o.key, o.insecure
		if o.mesh.key == "" {
			o.mesh.key = o.cert
		}
		if err := o.mesh.check("mesh-listen"); err != nil {
			return u("%v", err)
		}
		if _, err := o.mesh.tlsConfig(); errors.Is(err, errInsecure) {
			return u("mesh:// URLs: %v", err)
		}
	} else if len(o.mesh.join) > 0 || len(o.mesh.listen) > 0 || o.mesh.ca != "" {
		return u("the mesh node flags (--join, --mesh-listen, --ca) are for mesh:// URLs")
	}
	if o.proto == "sub" {
		if len(o.topics) == 0 {
			o.topics = []string{""}
		}
	} else if len(o.topics) > 0 {
		return u("--subscribe is for --sub0 only")
	}
	switch o.proto {
	case "pull", "sub":
		if o.dataSet {
			return u("--%s0 does not send: no --data or --file", o.proto)
		}
		if o.every {
			return u("--%s0 does not send: no --interval", o.proto)
		}
	case "push", "pub":
		if o.fmtSet {
			return u("--%s0 does not receive: no --format", o.proto)
		}
		if !o.dataSet {
			return u("--%s0 needs --data or --file", o.proto)
		}
	case "req", "surveyor":
		if !o.dataSet {
			return u("--%s0 needs --data or --file", o.proto)
		}
	case "rep", "respondent":
		if o.every {
			return u("--%s0 answers, it does not send on its own: no --interval", o.proto)
		}
	case "pair", "bus":
		if o.every && !o.dataSet {
			return u("--interval needs --data or --file")
		}
	}
	if o.every && o.interval <= 0 && o.count == 0 {
		return u("--interval 0 without --count would send without end")
	}
	return nil
}

// run runs plexus sock.
func (o *sockOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	if len(fs.args) > 0 {
		return usagef(o.cmd, "unexpected argument %q", fs.args[0])
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.dataFile != "" {
		var err error
		if o.dataFile == "-" {
			o.data, err = io.ReadAll(c.stdin)
		} else {
			o.data, err = os.ReadFile(o.dataFile)
		}
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
	}
	added := make(chan struct{}, 1)
	opts := []socket.Option{
		socket.WithLogger(fs.logger),
		socket.WithPipeHook(func(ev socket.PipeEvent, _ uint32) {
			if ev == socket.PipeAdded {
				select {
				case added <- struct{}{}:
				default:
				}
			}
		}),
	}
	if fs.set("recv-maxsz", "Z") {
		n := o.recvMax
		if n == 0 {
			n = 1<<31 - 1
		}
		opts = append(opts, socket.WithMaxRecvSize(n))
	}
	if o.sendTO > 0 {
		opts = append(opts, socket.WithSendStopTimeout(o.sendTO))
	}
	if o.usesTLS() {
		cfg, err := o.tlsConfig()
		if err != nil {
			return err
		}
		opts = append(opts, socket.WithTLSConfig(cfg))
	}
	var node *mesh.Node // for mesh:// URLs
	if o.usesMesh() {
		st, err := o.mesh.start(ctx, fs.logger, "mesh-listen")
		if err != nil {
			return err
		}
		defer st.node.Close()
		node = st.node
		opts = append(opts, socket.WithTransport(meshtp.New(node)))
	}
	s, err := openSocket(o.proto, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	if o.proto == "sub" {
		for _, t := range o.topics {
			if err := sub.Subscribe(s, []byte(t)); err != nil {
				return fmt.Errorf("subscribing to %q: %w", t, err)
			}
		}
	}
	for _, a := range o.addrs {
		if a.listen {
			bound, err := s.ListenAddr(a.url)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", a.url, err)
			}
			if o.verbose {
				fmt.Fprintf(c.stdout, "Listening at: %s\n", bound)
			}
			continue
		}
		if err := dialSock(ctx, s, a.url, node, fs.logger); err != nil {
			return fmt.Errorf("dialing %s: %w", a.url, err)
		}
		if o.verbose {
			fmt.Fprintf(c.stdout, "Connected to: %s\n", a.url)
		}
	}
	l := &sockLoop{o: o, s: s, out: c.stdout, added: added}
	switch o.proto {
	case "sub", "pull":
		err = l.recvLoop(ctx)
	case "rep", "respondent":
		if o.dataSet {
			if err = l.respLoop(ctx); err == nil {
				sleep(ctx, drainPause)
			}
		} else {
			err = l.recvLoop(ctx)
		}
	case "push", "pub":
		if err = l.sendLoop(ctx); err == nil {
			sleep(ctx, drainPause)
		}
	case "bus", "pair":
		if o.dataSet {
			err = l.sendRecv(ctx)
		} else {
			err = l.recvLoop(ctx)
		}
	case "req", "surveyor":
		err = l.sendRecv(ctx)
	}
	return err
}

// usesMesh reports whether an address is a mesh:// URL.
func (o *sockOptions) usesMesh() bool {
	for _, a := range o.addrs {
		if strings.HasPrefix(a.url, "mesh://") {
			return true
		}
	}
	return false
}

// meshWait is how long a dial to a mesh:// URL waits for its route or
// service to appear: the node has just joined.
const meshWait = 10 * time.Second

// dialSock dials url on s. The first attempt must succeed, as nngcat's,
// but a mesh:// URL is tried again while the mesh does not know the
// destination yet, up to meshWait (see dialWait); n is the node of
// mesh:// URLs.
func dialSock(ctx context.Context, s socket.Socket, url string, n *mesh.Node, log *slog.Logger) error {
	if !strings.HasPrefix(url, "mesh://") {
		return s.DialContext(ctx, url)
	}
	ctx, cancel := context.WithTimeout(ctx, meshWait)
	defer cancel()
	err := dialWait(ctx, n, url, log, func(ctx context.Context) error {
		addr, err := meshAddr(n, strings.TrimPrefix(url, "mesh://"))
		if err != nil {
			return err
		}
		return s.DialContext(ctx, "mesh://"+addr)
	})
	return waited(err, meshWait)
}

// openSocket opens a socket of protocol p.
func openSocket(p string, opts []socket.Option) (socket.Socket, error) {
	switch p {
	case "req":
		return req.New(opts...)
	case "rep":
		return rep.New(opts...)
	case "pub":
		return pub.New(opts...)
	case "sub":
		return sub.New(opts...)
	case "push":
		return push.New(opts...)
	case "pull":
		return pull.New(opts...)
	case "surveyor":
		return surveyor.New(opts...)
	case "respondent":
		return respondent.New(opts...)
	case "pair":
		return pair.New(opts...)
	case "bus":
		return bus.New(opts...)
	}
	return nil, fmt.Errorf("unknown protocol %q", p)
}

// usesTLS reports whether an address is tls+tcp:// or a TLS flag is set.
func (o *sockOptions) usesTLS() bool {
	for _, a := range o.addrs {
		if strings.HasPrefix(a.url, "tls+") {
			return true
		}
	}
	return o.cert != "" || o.cacert != "" || o.insecure
}

// tlsConfig builds the TLS configuration of tls+tcp:// from the flags.
func (o *sockOptions) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.insecure}
	if o.cert != "" {
		key := o.key
		if key == "" {
			key = o.cert
		}
		pair, err := tls.LoadX509KeyPair(o.cert, key)
		if err != nil {
			return nil, fmt.Errorf("--cert %s, --key %s: %w", o.cert, key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.cacert != "" {
		b, err := os.ReadFile(o.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--cacert %s: %w", o.cacert, errNoCertificate)
		}
		// Dialing, the server is checked against these; listening, a
		// client that presents a certificate is checked against them.
		cfg.RootCAs, cfg.ClientCAs = pool, pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// drainPause is how long plexus sock waits after its last send before
// it closes the socket, as nngcat does. Close is meant to write out what
// is queued, but today it may close a tls+tcp pipe whose last message a
// sender handed over for the pipe's writer to flush (the socket's drain
// check does not count that flush), and the message is lost; the pause
// covers that too.
const drainPause = 200 * time.Millisecond

// sockLoop runs the send and receive loops of plexus sock, after
// nngcat's.
type sockLoop struct {
	o     *sockOptions
	s     socket.Socket
	out   io.Writer
	added <-chan struct{} // a pipe was added
	buf   []byte
}

// finished reports whether err ends a receive loop without failing it:
// a receive timeout, nothing more to receive (a req with no request
// outstanding, a survey over), or the command was interrupted.
func finished(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, socket.ErrBadState) || errors.Is(err, context.Canceled)
}

// recv receives one message, waiting at most d (0: no limit).
func (l *sockLoop) recv(ctx context.Context, d time.Duration) ([]byte, error) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return l.s.RecvContext(ctx)
}

// print writes msg in the chosen format, in one write.
func (l *sockLoop) print(msg []byte) error {
	if l.o.format == formatNone {
		return nil
	}
	l.buf = appendMessage(l.buf[:0], l.o.format, msg)
	if _, err := l.out.Write(l.buf); err != nil {
		return fmt.Errorf("writing standard output: %w", err)
	}
	return nil
}

// send sends the data. A push waits first for a peer to take it, as
// NNG's does; every send gives up after --send-timeout.
func (l *sockLoop) send(ctx context.Context) error {
	if l.o.sendTO > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.o.sendTO)
		defer cancel()
	}
	if l.o.proto == "push" {
		for l.s.Stats().Pipes == 0 {
			select {
			case <-l.added:
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("send: %w within %v", errNoPeer, l.o.sendTO)
				}
				return ctx.Err()
			}
		}
	}
	if err := l.s.SendContext(ctx, l.o.data); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recvLoop prints what arrives, --count messages or until a receive
// times out.
func (l *sockLoop) recvLoop(ctx context.Context) error {
	for i := 0; l.o.count == 0 || i < l.o.count; i++ {
		msg, err := l.recv(ctx, l.o.recvTO)
		if finished(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if err := l.print(msg); err != nil {
			return err
		}
	}
	return nil
}

// respLoop prints each request and answers it with the data.
func (l *sockLoop) respLoop(ctx context.Context) error {
	for i := 1; ; i++ {
		msg, err := l.recv(ctx, l.o.recvTO)
		if finished(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if err := l.print(msg); err != nil {
			return err
		}
		if err := l.send(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if l.o.count > 0 && i >= l.o.count {
			return nil
		}
	}
}

// sendLoop sends the data once, or --count times, every --interval.
func (l *sockLoop) sendLoop(ctx context.Context) error {
	if sleep(ctx, l.o.delay) != nil {
		return nil
	}
	for i := 1; ; i++ {
		start := time.Now()
		if err := l.send(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if (!l.o.every && l.o.count == 0) || (l.o.count > 0 && i >= l.o.count) {
			return nil
		}
		if l.o.every && sleep(ctx, l.o.interval-time.Since(start)) != nil {
			return nil
		}
	}
}

// sendRecv sends the data and prints what comes back until the next
// send (--interval), the receive timeout, or the end of the exchange.
func (l *sockLoop) sendRecv(ctx context.Context) error {
	if sleep(ctx, l.o.delay) != nil {
		return nil
	}
	for i := 1; ; i++ {
		start := time.Now()
		if err := l.send(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if !l.o.every && l.o.count == 0 {
			return l.recvLoop(ctx)
		}
		for {
			wait := l.o.recvTO
			if l.o.every {
				left := l.o.interval - time.Since(start)
				if left <= 0 {
					break
				}
				if wait == 0 || left < wait {
					wait = left
				}
			}
			msg, err := l.recv(ctx, wait)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			if finished(err) {
				break
			}
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			if err := l.print(msg); err != nil {
				return err
			}
		}
		if l.o.count > 0 && i >= l.o.count {
			return nil
		}
		if l.o.every && sleep(ctx, l.o.interval-time.Since(start)) != nil {
			return nil
		}
	}
}
