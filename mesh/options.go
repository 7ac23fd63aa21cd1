package mesh

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
// own: smaller windows and send buffers, so that the memory a node's peers
// can make it hold is bounded by its limits (see docs/mesh.md, Memory).
//
// A link's session window caps what its neighbour can make it buffer:
// data not yet read, or not yet forwarded on a circuit; its send buffer,
// what waits for the connection. At most MaxLinks links (256) hold
// 2.25 MiB each: 576 MiB in the worst case, against 5 GiB with mux's
// defaults (16 MiB and 4 MiB). A stream's window grows to a quarter of
// the session window, 512 KiB: about 1 GB/s per stream at a 0.5 ms round
// trip, 10 MB/s at 50 ms; raise SessionWindow with WithLinkConfig for
// links with a larger bandwidth × delay product.
//
// A circuit's inner session window caps what its far host can make this
// end buffer, unread by the application; at most MaxCircuits circuits
// (1024) hold 1 MiB each in the worst case. The inner send buffer holds
// only this node's own writes.
const (
	DefaultLinkSessionWindow    = 2 << 20   // bytes a link's neighbour may have this node buffer
	DefaultLinkSendBuffer       = 256 << 10 // bytes queued for a link's connection
	DefaultCircuitSessionWindow = 1 << 20   // bytes a circuit's far host may have this end buffer
	DefaultCircuitSendBuffer    = 256 << 10 // bytes queued on a circuit (this node's writes)
)

type options struct {
	tls       *tls.Config
	id        uint64
	name      string
	relay     bool
	kaEvery   time.Duration
	kaTimeout time.Duration
	log       *slog.Logger
	limits    Limits
	link      mux.Config // of link sessions; keep-alive from kaEvery and kaTimeout
	circuit   mux.Config // of circuits' inner sessions and the self session

	// Timers of the routing protocol; tests shorten them.
	holdDown time.Duration // at most one origination of our record per holdDown
	lifetime time.Duration // a record expires this long after it is made
	// A circuit with no stream for this long is closed by its source.
	circuitIdle time.Duration
}

// WithTLS secures the node: every link is mutual TLS 1.3 against the mesh
// CA, records are signed, and circuits carry end-to-end TLS between their
// two hosts. cfg must hold this node's certificate (Certificates[0], with
// its private key) and the mesh CA pool (RootCAs, or ClientCAs); the node's
// id is derived from the certificate's public key. Plain links are refused.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithID sets the node id of an unsecured node (the default is random). It
// cannot be combined with WithTLS, where the certificate sets the id.
func WithID(id uint64) Option { return func(o *options) { o.id = id } }

// WithName sets the mesh name (default DefaultName). Links between nodes
// of different names are refused on both sides.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithRelay sets whether the node relays circuits between other nodes
// (default true). A node that does not relay is never an intermediate hop.
func WithRelay(relay bool) Option { return func(o *options) { o.relay = relay } }

// WithKeepAlive sets how long a link may be silent before it sends a ping
// (every, default 1s) and before it is declared dead (timeout, default 3s).
// A dead link is replaced by another path within about timeout.
func WithKeepAlive(every, timeout time.Duration) Option {
	return func(o *options) { o.kaEvery, o.kaTimeout = every, timeout }
}

// WithLogger makes the node log link changes and refusals to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithLimits sets the limits; its zero fields keep their defaults.
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithLinkConfig sets the mux configuration of link sessions. Its zero
// fields take the mesh's defaults for links: DefaultLinkSessionWindow,
// DefaultLinkSendBuffer, a WriteTimeout of the keep-alive timeout but at
// least 10s, and mux's defaults for the rest. Its keep-alive fields are
// ignored: links use WithKeepAlive's, which dead-link detection relies on.
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

// buildOptions applies opts over the defaults and checks the result.
func buildOptions(opts []Option) (options, error) {
	o := options{
		name:      DefaultName,
		relay:     true,
		kaEvery:   DefaultKeepAliveInterval,
		kaTimeout: DefaultKeepAliveTimeout,
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
	case o.name == "" || len(o.name) > maxNameLen:
		return o, fmt.Errorf("mesh: WithName(%q): the name must have 1 to %d bytes", o.name, maxNameLen)
	case o.kaEvery <= 0 || o.kaTimeout <= o.kaEvery:
		return o, fmt.Errorf("mesh: WithKeepAlive(%v, %v): want 0 < every < timeout", o.kaEvery, o.kaTimeout)
	case o.tls != nil && o.id != 0:
		return o, fmt.Errorf("mesh: WithID cannot be combined with WithTLS: the certificate sets the id")
	case o.holdDown <= 0 || o.lifetime <= 3*o.holdDown:
		return o, fmt.Errorf("mesh: bad routing timers: hold-down %v, lifetime %v", o.holdDown, o.lifetime)
	}
	o.link.KeepAliveInterval, o.link.KeepAliveTimeout = o.kaEvery, o.kaTimeout
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
// runs with it. mux checks a Config before it looks at the connection, so
// a nil connection starts nothing; mux has no exported check of its own.
func checkMuxConfig(cfg *mux.Config) error {
	_, err := mux.Client(nil, cfg)
	if err != nil && strings.HasPrefix(err.Error(), "mux: Config.") {
		return err
	}
	return nil
}
