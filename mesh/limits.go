package mesh

import (
	"fmt"
	"reflect"
	"time"
)

// Limits bound what peers can make a node hold. A zero field means the
// default shown beside it; a refusal by one of them is a *LimitError that
// names the field, locally and, through the wire's refusal codes, at the
// peer that was refused.
type Limits struct {
	MaxLinks             int           // links in all, accepted and dialed (64)
	MaxLinksPerPeer      int           // links to one neighbour (4)
	MaxCircuitsPerPeer   int           // circuits one neighbour may have this node relay at once (48; see WithLinkConfig)
	MaxCircuitsPerSource int           // of them, circuits whose source is that neighbour itself, this node being the first relay (16)
	MaxRelayedCircuits   int           // circuits this node relays at once, in all (8192)
	MaxCircuitsPerHost   int           // circuits from one far host ending here at once; one is the norm (8)
	MaxCircuits          int           // circuits ending here at once, in all (256); each may hold its inner session window, 4 MiB (WithCircuitConfig)
	MaxRecordSize        int           // bytes of one encoded routing record, certificate and signature included (64 KiB)
	RecordRate           int           // records read per second from one link once a burst of MaxRecords is spent; beyond it the link is read more slowly (200)
	MaxRecords           int           // routing table size: records held, one per node (8192)
	MaxServices          int           // services in one node's record, ours or a peer's (256)
	MaxPendingStreams    int           // streams of one link or circuit whose header is being read; as many again may wait for room in a listener's backlog (64)
	AcceptBacklog        int           // connections waiting for a listener's Accept; beyond it a dial waits for room up to HandshakeTimeout, then is refused (256)
	MaxHops              int           // hops of a circuit's path, at most 255 (16)
	MaxPendingCircuits   int           // circuit setups from one neighbour being handled at once (forwarded, or ending here before their end-to-end TLS is done); one more drops the oldest of those the neighbour got from the node that has the most pending (16)
	HandshakeTimeout     time.Duration // a link handshake, a stream header or a circuit setup (10s)
	PreAuthTimeout       time.Duration // a peer not authenticated yet: a link accepted from a listener until its TLS handshake and hello are done, a circuit ending here until its end-to-end TLS is done (2s)

	MaxPendingLinks      int // links accepted from listeners whose peer is not authenticated yet; one more closes the oldest of the address that has the most, a silent one (no TLS ClientHello yet) first (128)
	MaxPendingLinksPerIP int // of them, from one IPv4 address or IPv6 /64; one more closes the oldest from there, a silent one first (8)

	MaxRecordBytes int // bytes of the records in the routing table, at least MaxRecordSize; records of unreachable nodes are evicted first (32 MiB)

	SetupTimeout time.Duration // one attempt of a circuit setup, until the circuit is up; past it the source tries a path through other relays (2s, or HandshakeTimeout if shorter; the last attempt has what is left of HandshakeTimeout); at most HandshakeTimeout
}

// DefaultLimits are the values of the zero fields of Limits.
var DefaultLimits = Limits{
	MaxLinks:             64,
	MaxLinksPerPeer:      4,
	MaxCircuitsPerPeer:   48,
	MaxCircuitsPerSource: 16,
	MaxRelayedCircuits:   8192,
	MaxCircuitsPerHost:   8,
	MaxCircuits:          256,
	MaxRecordSize:        64 << 10,
	RecordRate:           200,
	MaxRecords:           8192,
	MaxServices:          256,
	MaxPendingStreams:    64,
	AcceptBacklog:        256,
	MaxHops:              16,
	MaxPendingCircuits:   16,
	HandshakeTimeout:     10 * time.Second,
	PreAuthTimeout:       2 * time.Second,

	MaxPendingLinks:      128,
	MaxPendingLinksPerIP: 8,

	MaxRecordBytes: 32 << 20,

	SetupTimeout: 2 * time.Second,
}

// limitNames lists the fields of Limits that refuse something; a refusal
// code on the wire is codeLimitBase plus the index here, so the order is
// part of the protocol: append only.
var limitNames = []string{
	"MaxLinks", "MaxLinksPerPeer", "MaxCircuitsPerPeer", "MaxRelayedCircuits",
	"MaxCircuitsPerHost", "MaxCircuits", "MaxRecordSize", "RecordRate",
	"MaxRecords", "MaxServices", "MaxPendingStreams", "AcceptBacklog",
	"MaxPendingCircuits", "MaxCircuitsPerSource", "MaxRecordBytes",
}

// limitErr returns the *LimitError of the named field of l.
func (l *Limits) limitErr(name string) *LimitError {
	v := reflect.ValueOf(l).Elem().FieldByName(name)
	return &LimitError{Limit: name, Max: int(v.Int())}
}

// normalize fills in the defaults and checks the ranges, naming the first
// bad field.
func (l Limits) normalize() (Limits, error) {
	setupGiven := l.SetupTimeout != 0
	v := reflect.ValueOf(&l).Elem()
	d := reflect.ValueOf(DefaultLimits)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Int() == 0 {
			f.Set(d.Field(i))
		}
		if f.Int() < 0 {
			return l, fmt.Errorf("mesh: Limits.%s %d is negative", v.Type().Field(i).Name, f.Int())
		}
	}
	if !setupGiven && l.SetupTimeout > l.HandshakeTimeout {
		l.SetupTimeout = l.HandshakeTimeout // the default, within a shorter HandshakeTimeout
	}
	switch {
	case l.MaxHops > 255:
		return l, fmt.Errorf("mesh: Limits.MaxHops %d is over 255", l.MaxHops)
	case l.MaxRecordSize < 1024 || l.MaxRecordSize > 1<<24:
		return l, fmt.Errorf("mesh: Limits.MaxRecordSize %d is outside [1024, %d]", l.MaxRecordSize, 1<<24)
	case l.MaxRecordBytes < l.MaxRecordSize:
		return l, fmt.Errorf("mesh: Limits.MaxRecordBytes %d is below MaxRecordSize (%d)", l.MaxRecordBytes, l.MaxRecordSize)
	case l.SetupTimeout > l.HandshakeTimeout:
		return l, fmt.Errorf("mesh: Limits.SetupTimeout %v is over HandshakeTimeout (%v), which bounds all the attempts of a setup", l.SetupTimeout, l.HandshakeTimeout)
	case l.MaxServices > 65535:
		return l, fmt.Errorf("mesh: Limits.MaxServices %d is over 65535", l.MaxServices)
	}
	return l, nil
}

// counts is a table of counters under a limit, per key and in all. It is
// not safe for concurrent use: its owner locks it.
type counts struct {
	perKey map[uint64]int
	total  int
}

// take adds one for key unless that would pass perMax (for the key) or
// totalMax (in all); it names the limit that refused.
func (c *counts) take(key uint64, perMax, totalMax int, perName, totalName string, l *Limits) error {
	if c.total >= totalMax {
		return l.limitErr(totalName)
	}
	if c.perKey[key] >= perMax {
		return l.limitErr(perName)
	}
	if c.perKey == nil {
		c.perKey = make(map[uint64]int)
	}
	c.perKey[key]++
	c.total++
	return nil
}

// put gives back what take took.
func (c *counts) put(key uint64) {
	if c.perKey[key] <= 1 {
		delete(c.perKey, key)
	} else {
		c.perKey[key]--
	}
	c.total--
}

// bucket is a token bucket: rate tokens a second, up to burst. It is used
// by one goroutine.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	at     time.Time
}

func newBucket(rate, burst int, now time.Time) *bucket {
	return &bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst), at: now}
}

// take spends one token and returns how long to wait before acting, zero
// if a token was there.
func (b *bucket) take(now time.Time) time.Duration {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
	b.at = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}
