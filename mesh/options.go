package mesh

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
	"github.com/plexusnet/plexus/mesh/internal/linkstate"
	"github.com/plexusnet/plexus/mux"
)

// Option configures a Node; give options to New.
type Option func(*options)

// Defaults of the options.
const (
	DefaultName              = "plexus"        // the mesh name when WithName is not given
	DefaultKeepAliveInterval = 1 * time.Second // a link sends a ping after this much silence
	DefaultKeepAliveTimeout  = 3 * time.Second // a link silent this long is dead
	defaultHoldDown          = 150 * time.Millisecond
	defaultRecordLifetime    = 10 * time.Minute
	defaultCircuitIdle       = 2 * time.Minute
)

// Defaults of the mux sessions a node runs, where they differ from mux's
// own: smaller send buffers, and inner sessions with smaller windows, so
// that the memory a node's peers can make it hold is bounded by its limits
// (see docs/mesh.md, Memory).
//
// A link's session window caps what its neighbour can make it buffer:
// data not yet forwarded on a circuit, since the next hop is slower (the
// link's session window is drawn on by its control stream and circuits
// only); its send buffer, what waits for the connection.
// It is also what keeps the link's records flowing when some circuits
// stall: every stream starts with a window of its own (64 KiB), which its
// sender may fill whether or not anything reads it, so the circuits that
// one neighbour can have relayed or pending (MaxCircuitsPerPeer +
// MaxPendingCircuits, 64) take at most a quarter of the window in initial
// windows, and half more once grown: a quarter of it is always left to
// the control stream and to the other neighbours' circuits. At most
// MaxLinks links (64) hold 16.25 MiB each: 1 GiB in the worst case. A
// stream's window grows to a quarter of the session window, 4 MiB.
//
// A link's connections to the neighbour are the class streams of its
// session (mux's Config.ClassWindow): they draw on a window of their own,
// DefaultLinkConnWindow, which caps what the neighbour's connections can
// make this node buffer, unread by the application, and never on the
// session window.
//
// An inner session window (a circuit's) caps what its far end can make
// this end buffer, unread by the application. It, and a link's
// connection window, are larger than a link's stream share needs: a
// stream through relays is paced by credit that comes back from the far
// end, and its window grows to a quarter of this one, 1 MiB; with 1 MiB
// windows (256 KiB per stream) a relayed stream moved half as much and
// spent more CPU per byte. At most MaxCircuits circuits (256) and MaxLinks
// links' connections (64) hold 4 MiB each in the worst case: 1.25 GiB.
// The inner send buffer holds only this node's own writes.
const (
	DefaultLinkSessionWindow    = 16 << 20  // bytes a link's neighbour may have this node buffer
	DefaultLinkConnWindow       = 4 << 20   // bytes a link's neighbour may have this node buffer on connections, unread
	DefaultLinkSendBuffer       = 256 << 10 // bytes queued for a link's connection
	DefaultCircuitSessionWindow = 4 << 20   // bytes a circuit's far end may have this end buffer
	DefaultCircuitSendBuffer    = 256 << 10 // bytes queued on a circuit (this node's writes)
)

// linkCreditFits reports whether the circuits one neighbour may have
// relayed or pending take at most a quarter of a link's session window in
// initial stream windows (see DefaultLinkSessionWindow).
func linkCreditFits(lim *Limits, link *mux.Config) bool {
	sw := int64(link.StreamWindow)
	if sw == 0 {
		sw = mux.DefaultStreamWindow
	}
	return int64(lim.MaxCircuitsPerPeer+lim.MaxPendingCircuits)*sw <= int64(link.SessionWindow)/4
}

type options struct {
	tls       *tls.Config
	insecure  bool
	id        uint64
	name      string
	nodeName  string // WithNodeName
	relay     bool
	advertise []string // WithAdvertise
	direct    bool     // WithDirect
	kaEvery   time.Duration
	kaTimeout time.Duration
	resume    bool          // WithResume
	resumeWin time.Duration // WithResumeWindow
	log       *slog.Logger
	limits    Limits
	link      mux.Config // of link sessions; keep-alive from kaEvery and kaTimeout
	circuit   mux.Config // of circuits' inner sessions and the self session

	// Timers of the routing protocol; tests shorten them.
	holdDown time.Duration // at most one origination of our record per holdDown
	lifetime time.Duration // a record expires this long after it is made
	// A circuit with no stream for this long is closed by its source.
	circuitIdle time.Duration

	servicePolicy func(host uint64, cert *x509.Certificate, env, name string) bool
	certPolicy    bool   // WithCertPolicy
	revocation    []byte // WithRevocationList's PEM
}

// WithTLS secures the node: every link is mutual TLS 1.3 against the mesh
// CA, records are signed, and circuits carry end-to-end TLS between their
// two hosts. cfg must hold this node's certificate (Certificates[0], with
// its private key) and the mesh CA pool (RootCAs, or ClientCAs); the node's
// id is derived from the certificate's public key. Plain links are refused.
//
// The config's VerifyPeerCertificate and VerifyConnection, if set, are
// called after the mesh's own checks, at both ends of every link and of
// every circuit's end-to-end TLS (VerifiedChains holds the chains the
// mesh verified), and refuse the peer with ErrNotAuthorized if they fail:
// a policy of this node about its neighbours and the far hosts it talks
// to. They are not called for the records of other nodes, nor about the
// relays of a circuit. Its GetCertificate-like callbacks are ignored: the
// node's certificate is Certificates[0] (see Node.ReloadTLS).
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithInsecure runs the node without TLS: links and circuits in the clear,
// records unsigned, node ids taken on trust, so that any node that can
// reach this one may join the mesh under any id, announce any service and
// read what it relays. A node needs either WithTLS or WithInsecure: New
// refuses a node given neither, so that an insecure mesh is always a
// choice someone made. An insecure node logs one warning when it starts.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithServicePolicy restricts which nodes this node believes about which
// service names. Any member of a mesh may announce any service name in any
// env; allow is called for every service in another node's record, with
// the node's id, its certificate (nil on an unsecured mesh) and the
// service's env and name, and a service it refuses is ignored by this node:
// neither listed by Services nor dialed by name (a dial to the node's
// host:port still goes). For example, allow "billing" only to certificates
// whose DNS names include billing.prod.example. The record itself is
// flooded unchanged, and other nodes apply their own policy. allow must
// be fast and safe for concurrent use; our own services are not checked.
func WithServicePolicy(allow func(host uint64, cert *x509.Certificate, env, name string) bool) Option {
	return func(o *options) { o.servicePolicy = allow }
}

// WithCertPolicy makes the node enforce certificate policy: it believes a
// service of another node only if that node's certificate names it, in a
// URI SAN plexus:service/NAME, plexus:service/ENV/NAME or
// plexus:service/ENV/* (see CertGrants; 'plexus cert node --service'
// writes them). A service its certificate does not name is ignored, as
// WithServicePolicy ignores one: neither listed by Services nor dialed by
// name, so that a member cannot draw the dials to a name it was not given
// (a dial to its host:port still goes). A certificate that names no
// service may serve none: turning the policy on needs certificates
// reissued with names first. It applies together with WithServicePolicy,
// whose callback sees only the services the certificates name: both must
// allow. Our own services are not checked. It needs WithTLS: New fails
// otherwise. NodeInfo.CertPolicy reports it.
func WithCertPolicy() Option { return func(o *options) { o.certPolicy = true } }

// WithID sets the node id of an insecure node (the default is random). It
// cannot be combined with WithTLS, where the certificate sets the id.
func WithID(id uint64) Option { return func(o *options) { o.id = id } }

// WithName sets the mesh name (default DefaultName). Links between nodes
// of different names are refused on both sides.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithNodeName names an insecure node: 1 to 63 of a-z, 0-9, '-' and
// '.', not 16 hex digits. The name travels in the node's routing records,
// so that others show it beside its id and resolve it (see Resolve); no
// certificate vouches for it, so the mesh calls it unverified. A secured
// node's name is its certificate's common name (CN): WithNodeName may
// only repeat it.
func WithNodeName(name string) Option { return func(o *options) { o.nodeName = name } }

// WithRelay sets whether the node relays circuits between other nodes
// (default true). A node that does not relay is never an intermediate hop.
func WithRelay(relay bool) Option { return func(o *options) { o.relay = relay } }

// WithAdvertise makes the node advertise, in its routing record, the
// addresses where it accepts links (HOST:PORT, at most 4 of at most 64
// bytes each; a listener of Serve or ListenAndServe must be reachable
// there). A node that has a circuit to this one may then dial it directly
// (see WithDirect), so that the two become neighbours and their new
// connections no longer go through relays. By default a node advertises
// nothing, and only nodes that Join it dial it.
func WithAdvertise(addrs ...string) Option {
	return func(o *options) { o.advertise = append(o.advertise[:0:0], addrs...) }
}

// WithDirect sets whether the node upgrades its relayed pairs to direct
// links (default true): when it has a circuit (as its source or its
// destination, not as a relay) to a host that is not a neighbour, it
// dials a direct link to an address the host advertises (WithAdvertise),
// requiring the host's id there (its certificate's, when secured); when
// only this node advertises, it asks the host, through the circuit, to
// dial back. It dials at most 3 times a minute per address. See
// docs/mesh.md, Direct links.
func WithDirect(direct bool) Option { return func(o *options) { o.direct = direct } }

// WithKeepAlive sets how long a link may be silent before it sends a ping
// (every, default 1s) and before it is declared dead (timeout, default 3s).
// A dead link is replaced by another path within about timeout.
func WithKeepAlive(every, timeout time.Duration) Option {
	return func(o *options) { o.kaEvery, o.kaTimeout = every, timeout }
}

// DefaultResumeWindow is how long a link whose connection broke waits to
// be resumed (WithResumeWindow).
const DefaultResumeWindow = 30 * time.Second

// WithResumeWindow sets how long a resumable link whose connection broke
// is kept suspended, its streams and circuits paused, for the dialing side
// to redial and resume it, and how long a resumable circuit whose path
// broke waits for its source to resume it along a new path (default 30s);
// past it, the link and everything on it, or the circuit, fail with an
// error wrapping ErrResumeTimeout. See docs/mesh.md, Resumable links and
// Resumable circuits.
func WithResumeWindow(d time.Duration) Option { return func(o *options) { o.resumeWin = d } }

// WithResume turns resumable links and circuits on or off (off by
// default, for now: resumable links cost a large part of a link's bulk
// throughput, see docs/mesh.md, Resumable links). Links made by Join and
// accepted by Serve then survive a broken connection for the resume
// window (WithResumeWindow); a link with a node that has it off, or does
// not speak it, is a plain link, as before. Circuits to hosts that have it
// on too (their record says so) survive the loss of their path: the
// source resumes them along another path, or onto a direct link when the
// two become neighbours (docs/mesh.md, Resumable circuits).
func WithResume(on bool) Option { return func(o *options) { o.resume = on } }

// WithLogger makes the node log link changes and refusals to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithLimits sets the limits; its zero fields keep their defaults.
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithLinkConfig sets the mux configuration of link sessions. Its zero
// fields take the mesh's defaults for links: DefaultLinkSessionWindow,
// a ClassWindow (the window of the connections to the neighbour, which
// are the session's class streams) of DefaultLinkConnWindow,
// DefaultLinkSendBuffer, a WriteTimeout of the keep-alive timeout but at
// least 10s, an AcceptBacklog of MaxPendingStreams + MaxPendingCircuits
// (80, for circuit setups) and a MaxStreams derived from the Limits
// (docs/mesh.md, Memory: 8,913 streams with the default limits);
// connections have their own bound and backlog, ClassMaxStreams and
// ClassAcceptBacklog, mux's defaults (65,536 and 1,024); and mux's
// defaults for the rest. Its keep-alive fields are
// ignored: links use WithKeepAlive's, which dead-link detection relies on.
// Keep (MaxCircuitsPerPeer + MaxPendingCircuits) × StreamWindow within a
// quarter of SessionWindow, or one neighbour's stalled circuits can stop
// a link's records (New logs a warning then).
func WithLinkConfig(cfg *mux.Config) Option {
	return func(o *options) {
		if cfg != nil {
			o.link = *cfg
		}
	}
}

// WithCircuitConfig sets the mux configuration of the inner sessions of
// circuits (and of the session on which a node dials itself). Its zero
// fields take DefaultCircuitSessionWindow, DefaultCircuitSendBuffer, a
// WriteTimeout of 10s, and mux's defaults for the rest.
func WithCircuitConfig(cfg *mux.Config) Option {
	return func(o *options) {
		if cfg != nil {
			o.circuit = *cfg
		}
	}
}

// withCircuitIdle sets how long a circuit may go unused, for tests.
func withCircuitIdle(d time.Duration) Option { return func(o *options) { o.circuitIdle = d } }

// withTimers shortens the routing timers, for tests.
func withTimers(holdDown, lifetime time.Duration) Option {
	return func(o *options) { o.holdDown, o.lifetime = holdDown, lifetime }
}

// errNoTLS refuses a node given neither WithTLS nor WithInsecure.
var errNoTLS = errors.New("mesh: New: no WithTLS: a secured node needs a certificate of the mesh CA and the CA pool " +
	"(make them with 'plexus cert ca' and 'plexus cert node', see docs/mesh.md, Security); " +
	"give WithInsecure() to run a mesh that anyone who reaches it may join")

// buildOptions applies opts over the defaults and checks the result.
func buildOptions(opts []Option) (options, error) {
	o := options{
		name:      DefaultName,
		relay:     true,
		direct:    true,
		kaEvery:   DefaultKeepAliveInterval,
		kaTimeout: DefaultKeepAliveTimeout,
		resumeWin: DefaultResumeWindow,
		holdDown:  defaultHoldDown,
		lifetime:  defaultRecordLifetime,

		circuitIdle: defaultCircuitIdle,
	}
	for _, opt := range opts {
		opt(&o)
	}
	var err error
	if o.limits, err = o.limits.normalize(); err != nil {
		return o, err
	}

	switch {
	case o.name == "" || len(o.name) > base.MaxNameLen:
		return o, fmt.Errorf("mesh: WithName(%q): the name must have 1 to %d bytes", o.name, base.MaxNameLen)
	case o.nodeName != "" && base.CheckNodeName(o.nodeName) != nil:
		return o, fmt.Errorf("mesh: WithNodeName: %w", base.CheckNodeName(o.nodeName))
	case linkstate.CheckAdvertise(o.advertise) != nil:
		return o, fmt.Errorf("mesh: WithAdvertise: %w", linkstate.CheckAdvertise(o.advertise))
	case o.kaEvery <= 0 || o.kaTimeout <= o.kaEvery:
		return o, fmt.Errorf("mesh: WithKeepAlive(%v, %v): want 0 < every < timeout", o.kaEvery, o.kaTimeout)
	case o.resumeWin <= 0:
		return o, fmt.Errorf("mesh: WithResumeWindow(%v): want a positive duration", o.resumeWin)
	case o.tls == nil && !o.insecure:
		return o, errNoTLS
	case o.tls != nil && o.insecure:
		return o, fmt.Errorf("mesh: WithInsecure cannot be combined with WithTLS")
	case o.certPolicy && o.tls == nil:
		return o, errCertPolicyInsecure
	case o.tls != nil && o.id != 0:
		return o, fmt.Errorf("mesh: WithID cannot be combined with WithTLS: the certificate sets the id")
	case o.holdDown <= 0 || o.lifetime <= 3*o.holdDown:
		return o, fmt.Errorf("mesh: bad routing timers: hold-down %v, lifetime %v", o.holdDown, o.lifetime)
	}
	o.link.KeepAliveInterval, o.link.KeepAliveTimeout = o.kaEvery, o.kaTimeout
	if o.link.AcceptBacklog == 0 {
		// A link's own session carries circuit setups only: what its
		// header workers and pending setups take, waiting, is plenty, and
		// a neighbour that opens faster waits (mux's backpressure).
		o.link.AcceptBacklog = o.limits.MaxPendingStreams + o.limits.MaxPendingCircuits
	}
	if o.link.MaxStreams == 0 {
		o.link.MaxStreams = linkMaxStreams(&o.limits, &o.link)
	}
	if o.link.ClassMaxStreams == 0 {
		o.link.ClassMaxStreams = mux.DefaultMaxStreams
	}
	if o.link.ClassAcceptBacklog == 0 {
		// Connections wait in a backlog of their own, as large as the
		// connection session's was: a burst of dials to a neighbour whose
		// listeners are busy waits less (and costs less) than with the
		// circuit setups' small one.
		o.link.ClassAcceptBacklog = mux.DefaultAcceptBacklog
	}
	if o.link.ClassWindow == 0 {
		o.link.ClassWindow = max(DefaultLinkConnWindow, 4*o.link.StreamWindow)
	}
	setDefaults(&o.link, DefaultLinkSessionWindow, DefaultLinkSendBuffer, max(o.kaTimeout, 10*time.Second))
	setDefaults(&o.circuit, DefaultCircuitSessionWindow, DefaultCircuitSendBuffer, 10*time.Second)
	if err := checkMuxConfig(&o.link); err != nil {
		return o, fmt.Errorf("mesh: WithLinkConfig: %w", err)
	}
	if err := checkMuxConfig(&o.circuit); err != nil {
		return o, fmt.Errorf("mesh: WithCircuitConfig: %w", err)
	}
	return o, nil
}

// linkMaxStreams returns the streams a link's session may hold, apart from
// connections (its class streams, bounded by ClassMaxStreams), from the
// mesh's own limits (docs/mesh.md, Memory): its control stream; the streams the neighbour opened that wait to be accepted (the
// link's AcceptBacklog: MaxPendingStreams + MaxPendingCircuits unless
// WithLinkConfig sets it), whose header is being read (MaxPendingStreams)
// and whose setup is being handled (MaxPendingCircuits); the circuits the neighbour has this node relay
// (MaxCircuitsPerPeer); and, since all of them may run through one link,
// the circuits ending here (MaxCircuits), those this node relays on to
// the neighbour (MaxRelayedCircuits) and those it sets up itself (counted
// as MaxCircuits again). So a neighbour's streams are bounded by the
// limits, and mux's default (65,536 streams of about 470 bytes) is never
// what bounds a link.
func linkMaxStreams(lim *Limits, link *mux.Config) int {
	backlog := link.AcceptBacklog
	if backlog == 0 {
		backlog = mux.DefaultAcceptBacklog
	}
	return 1 + backlog + lim.MaxPendingStreams + lim.MaxPendingCircuits + lim.MaxCircuitsPerPeer +
		2*lim.MaxCircuits + lim.MaxRelayedCircuits
}

// setDefaults fills the zero fields of cfg that the mesh sets otherwise
// than mux. A session window too small for a larger StreamWindow is
// raised to four times it, as mux requires.
func setDefaults(cfg *mux.Config, window, sendBuffer int, writeTimeout time.Duration) {
	if cfg.SessionWindow == 0 {
		cfg.SessionWindow = max(uint32(window), 4*cfg.StreamWindow)
	}
	if cfg.SendBuffer == 0 {
		cfg.SendBuffer = sendBuffer
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = writeTimeout
	}
}

// checkMuxConfig returns mux's objection to cfg, if any, before a session
// runs with it.
func checkMuxConfig(cfg *mux.Config) error { return cfg.Validate() }

// advertiseBytes returns what the addresses take in a record.
func advertiseBytes(addrs []string) int {
	if len(addrs) == 0 {
		return 0
	}
	n := 1
	for _, a := range addrs {
		n += 1 + len(a)
	}
	return n
}
