package mesh

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// Stats are a node's counters (only ever growing, since New) and gauges
// (values of the moment), as plain values; package metrics/prom exports
// them to Prometheus. The keep-alive round trip of each link is in Links.
// The counters come in four groups, embedded so that each is a field of
// Stats itself (st.LinkUps, st.CircuitsOpened, ...) and JSON keeps them
// flat.
type Stats struct {
	LinkStats
	CircuitStats
	RoutingStats
	ConnStats
}

// LinkStats are the counters of a node's links and of the traffic on them.
type LinkStats struct {
	Links          int    // links up now
	LinkUps        uint64 // links that came up (their handshake succeeded)
	LinkDowns      uint64 // links that went down after coming up
	LinkHandshakes uint64 // connections whose link handshake failed: TLS, hello, a refusal, a timeout, a limit

	// Resumable links (WithResume, WithResumeWindow).

	LinkBreaks         uint64 // connections of resumable links that broke (the link suspended)
	LinkResumes        uint64 // suspended links resumed over a new connection
	LinkResumesRefused uint64 // resume attempts refused: another node, a bad MAC, too many from one source

	// The direct upgrade of relayed pairs (WithDirect, WithAdvertise).

	DirectDials   uint64 // direct links dialed to an address a far host advertises (attempts)
	DirectLinks   uint64 // of them, those that came up
	DirectRefused uint64 // of them, those refused because the node there did not prove the host's id
	DialBacks     uint64 // dial-back requests received from the far end of a circuit

	// Traffic on the links: every byte between this node and its
	// neighbours, records, connections and relayed circuits alike. The
	// counts of a link that went down are those it had when it did.

	BytesIn   uint64 // bytes read from the links' connections
	BytesOut  uint64 // bytes written to them
	FramesIn  uint64 // mux frames read
	FramesOut uint64 // mux frames queued for writing
	Streams   int    // streams open now on the links' sessions (control streams, connections, circuit hops)
	Conns     int    // connections open now to and from this node: over links to neighbours and over circuits ending here
}

// CircuitStats are the counters of the circuits a node sets up, accepts
// and relays.
type CircuitStats struct {
	CircuitsRelayed      int    // circuits this node relays now
	CircuitsRelayedTotal uint64 // circuits this node ever relayed (spliced)
	Circuits             int    // circuits ending here now, either end
	CircuitsOpened       uint64 // circuits this node set up
	CircuitsAccepted     uint64 // circuits the far host set up, ending here
	CircuitsRefused      uint64 // circuit setups this node refused, whatever the reason, relayed or ending here
	CircuitsRefusedLimit uint64 // of them, those refused by a limit (a *LimitError: MaxCircuitsPerPeer, MaxCircuits, ...)
	CircuitSetupsFailed  uint64 // attempts of this node to set a circuit up that failed (a refusal, a reset, no answer within SetupTimeout); the next attempt takes other relays
	RelaysAvoided        int    // relays this node avoids now, after setups through them failed

	// Resumable circuits (WithResume), at their ends.

	CircuitBreaks         uint64 // paths of resumable circuits that broke (the circuit suspended)
	CircuitResumes        uint64 // suspended circuits resumed over a new path, or moved onto a direct link
	CircuitResumesRefused uint64 // circuit resume exchanges refused (a bad MAC, a stale generation, ...)
}

// RoutingStats are the counters of the routing records and of the routes
// they make.
type RoutingStats struct {
	RecordsReceived   uint64 // routing records read from links, copies included
	RecordsSent       uint64 // records sent to neighbours: flooded, ours, and the database sent to a new link
	RecordsOriginated uint64 // records of our own made
	RecordsRefused    uint64 // records refused: malformed, oversized, badly signed, expired, over a limit
	RecordsStale      uint64 // records older than the one held (the newer one is sent back)
	Records           int    // records held now, ours excluded
	Routes            int    // hosts reachable now (the length of Routes)
	RouteChanges      uint64 // changes of the mesh's graph that routes follow: links here up or down, a node's record new, gone, or announcing other links or relaying

	// ServicesIgnored counts the services of other nodes' records that
	// this node ignored: not named by the node's certificate
	// (WithCertPolicy), or refused by WithServicePolicy; each time a
	// record that lists one arrives.
	ServicesIgnored uint64
}

// ConnStats are the counters of the connections a node dials and
// accepts.
type ConnStats struct {
	Dials       uint64    // dials (Dial, DialContext, DialTimeout), successful or not
	DialErrors  uint64    // dials that failed
	DialLatency Histogram // the time successful dials took

	// ConnsNotAuthorized counts the connections refused because the
	// caller's certificate names none of the listener's groups
	// (AllowGroups).
	ConnsNotAuthorized uint64
}

// Histogram counts observations of a duration in fixed buckets.
type Histogram struct {
	// Bounds are the buckets' upper bounds (inclusive), increasing; a
	// last bucket, without bound, follows them.
	Bounds []time.Duration
	// Counts has one count per bucket, len(Bounds)+1, each bucket on
	// its own (not cumulative).
	Counts []uint64
	Count  uint64        // observations in all: the sum of Counts
	Sum    time.Duration // their sum
}

// dialBounds are the bounds of the DialLatency buckets: a dial that does
// not wait takes microseconds, one that waits a round trip or sets up a
// circuit takes one or a few round trips.
var dialBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// histogram is the atomic side of a Histogram over dialBounds.
type histogram struct {
	counts [len(dialBounds) + 1]atomic.Uint64
	sum    atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(dialBounds) && d > dialBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Bounds: append([]time.Duration(nil), dialBounds[:]...), Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// nodeCounters are the atomic counters behind Stats; each is one atomic
// add where it counts.
type nodeCounters struct {
	linkUps, linkDowns, linkHandshakes                    atomic.Uint64
	linkBreaks, linkResumes, linkResumesRefused           atomic.Uint64
	circuitBreaks, circuitResumes, circuitResumesRefused  atomic.Uint64
	relayedTotal, opened, accepted, refused, refusedLimit atomic.Uint64
	setupsFailed                                          atomic.Uint64
	recReceived, recSent, recRefused, recStale            atomic.Uint64
	dials, dialErrors                                     atomic.Uint64
	connsNotAuthorized, servicesIgnored                   atomic.Uint64
	directDials, directLinks, directRefused, dialBacks    atomic.Uint64
	dialLatency                                           histogram

	// gone holds the traffic of the links that went down; mu makes a
	// link leave the table and enter gone at once for Stats, so that
	// the sums never go back.
	mu   sync.Mutex
	gone mux.Stats
}

// removeLink unregisters l, a link that goes down, and keeps its counts.
func (c *core) removeLink(l *link) {
	s := &c.stats
	s.mu.Lock()
	c.links.remove(l)
	st := l.sess.Stats()
	s.gone.BytesIn += st.BytesIn
	s.gone.BytesOut += st.BytesOut
	s.gone.FramesIn += st.FramesIn
	s.gone.FramesOut += st.FramesOut
	s.mu.Unlock()
	s.linkDowns.Add(1)
}

// countRefusal counts a circuit setup refused with err.
func (c *core) countRefusal(err error) {
	c.stats.refused.Add(1)
	var le *LimitError
	if errors.As(err, &le) {
		c.stats.refusedLimit.Add(1)
	}
}

// Stats returns the node's counters and gauges. It takes no lock of the
// data path: it sums the sessions' own counters and reads atomics.
func (n *Node) Stats() Stats {
	c := n.c
	s := &c.stats
	var st Stats
	st.LinkUps = s.linkUps.Load()
	st.LinkDowns = s.linkDowns.Load()
	st.LinkHandshakes = s.linkHandshakes.Load()
	st.LinkBreaks = s.linkBreaks.Load()
	st.LinkResumes = s.linkResumes.Load()
	st.LinkResumesRefused = s.linkResumesRefused.Load()
	st.DirectDials = s.directDials.Load()
	st.DirectLinks = s.directLinks.Load()
	st.DirectRefused = s.directRefused.Load()
	st.DialBacks = s.dialBacks.Load()
	st.CircuitsRelayedTotal = s.relayedTotal.Load()
	st.CircuitsOpened = s.opened.Load()
	st.CircuitsAccepted = s.accepted.Load()
	st.CircuitsRefused = s.refused.Load()
	st.CircuitsRefusedLimit = s.refusedLimit.Load()
	st.CircuitSetupsFailed = s.setupsFailed.Load()
	st.CircuitBreaks = s.circuitBreaks.Load()
	st.CircuitResumes = s.circuitResumes.Load()
	st.CircuitResumesRefused = s.circuitResumesRefused.Load()
	st.RelaysAvoided = c.avoid.count(time.Now())
	st.RecordsReceived = s.recReceived.Load()
	st.RecordsSent = s.recSent.Load()
	st.RecordsRefused = s.recRefused.Load()
	st.RecordsStale = s.recStale.Load()
	st.Dials = s.dials.Load()
	st.DialErrors = s.dialErrors.Load()
	st.DialLatency = s.dialLatency.snapshot()
	st.ConnsNotAuthorized = s.connsNotAuthorized.Load()
	st.ServicesIgnored = s.servicesIgnored.Load()
	s.mu.Lock()
	st.BytesIn, st.BytesOut, st.FramesIn, st.FramesOut = s.gone.BytesIn, s.gone.BytesOut, s.gone.FramesIn, s.gone.FramesOut
	links := c.links.all()
	for _, l := range links {
		ls := l.sess.Stats()
		st.BytesIn += ls.BytesIn
		st.BytesOut += ls.BytesOut
		st.FramesIn += ls.FramesIn
		st.FramesOut += ls.FramesOut
		st.Streams += ls.Streams
	}
	s.mu.Unlock()
	st.Links = len(links)
	for _, l := range links {
		st.Conns += l.sess.Stats().ClassStreams
	}

	st.CircuitsRelayed = c.relays.relayed()
	c.circuits.mu.Lock()
	ends := make([]*circuit, 0, len(c.circuits.all))
	for ci := range c.circuits.all {
		ends = append(ends, ci)
	}
	c.circuits.mu.Unlock()
	st.Circuits = len(ends)
	for _, ci := range ends {
		st.Conns += ci.sess.NumStreams()
	}

	c.rt.mu.Lock()
	rs := c.rt.r.Stats()
	st.Records, st.Routes = rs.Records, rs.Routes
	st.RouteChanges, st.RecordsOriginated = rs.Changes, rs.Originated
	c.rt.mu.Unlock()
	return st
}
