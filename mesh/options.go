package mesh

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"
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

type options struct {
	tls       *tls.Config
	id        uint64
	name      string
	relay     bool
	kaEvery   time.Duration
	kaTimeout time.Duration
	log       *slog.Logger
	limits    Limits

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
	return o, nil
}
