package prom

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexusnet/plexus/mesh"
)

// NodeCollector is a prometheus.Collector of a mesh node: its Stats, and
// per neighbour the counters of its Links. Every metric has the label
// node, the node id in 16 hex digits, so that the collectors of several
// nodes in one process go in one registry. Make it with
// NewNodeCollector.
type NodeCollector struct {
	node    *mesh.Node
	id      string
	metrics []metric[mesh.Stats]
	info    *prometheus.Desc
	dial    *prometheus.Desc
	peer    []metric[peerStats]
	rev     []metric[mesh.RevocationInfo]
}

// peerStats are the links to one neighbour, summed.
type peerStats struct {
	links               int
	bytesIn, bytesOut   uint64
	framesIn, framesOut uint64
	streams, conns      int
	rtt                 float64 // seconds, of the newest link that measured one
	since               float64 // unix seconds, of the newest link
}

// NewNodeCollector returns the collector of n. It reads n's Stats and
// Links at each scrape, and nothing between scrapes.
func NewNodeCollector(n *mesh.Node) *NodeCollector {
	id := mesh.FormatID(n.ID())
	l := prometheus.Labels{"node": id}
	const p = "plexus_mesh_"
	type S = mesh.Stats
	c := &NodeCollector{node: n, id: id}
	c.metrics = []metric[S]{
		gauge(p+"start_time_seconds", "When the node started, in unix seconds.", l, func(*S) float64 { return float64(n.Started().UnixNano()) / 1e9 }),
		gauge(p+"links", "Links up now.", l, func(s *S) float64 { return float64(s.Links) }),
		counter(p+"link_ups_total", "Links that came up (their handshake succeeded).", l, func(s *S) float64 { return float64(s.LinkUps) }),
		counter(p+"link_downs_total", "Links that went down after coming up.", l, func(s *S) float64 { return float64(s.LinkDowns) }),
		counter(p+"link_handshake_failures_total", "Connections whose link handshake failed (TLS, hello, refusal, timeout, limit).", l, func(s *S) float64 { return float64(s.LinkHandshakes) }),
		counter(p+"link_breaks_total", "Connections of resumable links that broke (the link suspended, waiting for a resume).", l, func(s *S) float64 { return float64(s.LinkBreaks) }),
		counter(p+"link_resumes_total", "Suspended links resumed over a new connection.", l, func(s *S) float64 { return float64(s.LinkResumes) }),
		counter(p+"link_resumes_refused_total", "Link resume attempts refused (another node, a bad MAC, too many from one source).", l, func(s *S) float64 { return float64(s.LinkResumesRefused) }),
		counter(p+"direct_dials_total", "Direct links dialed to an address a far host advertises (the direct upgrade of relayed pairs).", l, func(s *S) float64 { return float64(s.DirectDials) }),
		counter(p+"direct_links_total", "Direct links dialed that came up.", l, func(s *S) float64 { return float64(s.DirectLinks) }),
		counter(p+"direct_refused_total", "Direct links dialed that were refused: the node at the address did not prove the host's id.", l, func(s *S) float64 { return float64(s.DirectRefused) }),
		counter(p+"dial_back_requests_total", "Dial-back requests received from the far end of a circuit.", l, func(s *S) float64 { return float64(s.DialBacks) }),
		counter(p+"received_bytes_total", "Bytes read from the links' connections, by all links since the node started.", l, func(s *S) float64 { return float64(s.BytesIn) }),
		counter(p+"sent_bytes_total", "Bytes written to the links' connections, by all links since the node started.", l, func(s *S) float64 { return float64(s.BytesOut) }),
		counter(p+"received_frames_total", "Mux frames read from the links.", l, func(s *S) float64 { return float64(s.FramesIn) }),
		counter(p+"sent_frames_total", "Mux frames queued for writing on the links.", l, func(s *S) float64 { return float64(s.FramesOut) }),
		gauge(p+"streams", "Streams open now on the links' sessions (control and connection streams, circuit hops).", l, func(s *S) float64 { return float64(s.Streams) }),
		gauge(p+"connections", "Connections open now to and from this node, over links and over circuits ending here.", l, func(s *S) float64 { return float64(s.Conns) }),
		gauge(p+"relayed_circuits", "Circuits this node relays now.", l, func(s *S) float64 { return float64(s.CircuitsRelayed) }),
		counter(p+"relayed_circuits_started_total", "Circuits this node started relaying.", l, func(s *S) float64 { return float64(s.CircuitsRelayedTotal) }),
		gauge(p+"circuits", "Circuits ending here now, either end.", l, func(s *S) float64 { return float64(s.Circuits) }),
		counter(p+"circuits_opened_total", "Circuits this node set up.", l, func(s *S) float64 { return float64(s.CircuitsOpened) }),
		counter(p+"circuits_accepted_total", "Circuits a far host set up to this node.", l, func(s *S) float64 { return float64(s.CircuitsAccepted) }),
		counter(p+"circuits_refused_total", "Circuit setups this node refused, for any reason, relayed or ending here.", l, func(s *S) float64 { return float64(s.CircuitsRefused) }),
		counter(p+"circuits_refused_by_limit_total", "Circuit setups this node refused because of a limit (MaxCircuitsPerPeer, MaxCircuits, ...).", l, func(s *S) float64 { return float64(s.CircuitsRefusedLimit) }),
		counter(p+"circuit_setups_failed_total", "Attempts of this node to set a circuit up that failed (refused, reset, or unanswered within SetupTimeout); the next attempt takes other relays.", l, func(s *S) float64 { return float64(s.CircuitSetupsFailed) }),
		counter(p+"circuit_breaks_total", "Paths of resumable circuits that broke at this end (the circuit suspended).", l, func(s *S) float64 { return float64(s.CircuitBreaks) }),
		counter(p+"circuit_resumes_total", "Resumable circuits resumed over a new path, or moved onto a direct link.", l, func(s *S) float64 { return float64(s.CircuitResumes) }),
		counter(p+"circuit_resumes_refused_total", "Circuit resume exchanges refused (a bad MAC, a stale generation).", l, func(s *S) float64 { return float64(s.CircuitResumesRefused) }),
		gauge(p+"relays_avoided", "Relays this node avoids now, after circuit setups through them failed.", l, func(s *S) float64 { return float64(s.RelaysAvoided) }),
		counter(p+"records_received_total", "Routing records read from links, copies included.", l, func(s *S) float64 { return float64(s.RecordsReceived) }),
		counter(p+"records_sent_total", "Routing records sent to neighbours (flooded, ours, the database sent to a new link).", l, func(s *S) float64 { return float64(s.RecordsSent) }),
		counter(p+"records_originated_total", "Routing records of this node's own made.", l, func(s *S) float64 { return float64(s.RecordsOriginated) }),
		counter(p+"records_refused_total", "Routing records refused: malformed, oversized, badly signed, expired, over a limit.", l, func(s *S) float64 { return float64(s.RecordsRefused) }),
		counter(p+"records_stale_total", "Routing records older than the one held.", l, func(s *S) float64 { return float64(s.RecordsStale) }),
		gauge(p+"records", "Routing records held now, the node's own excluded.", l, func(s *S) float64 { return float64(s.Records) }),
		gauge(p+"routes", "Hosts reachable now.", l, func(s *S) float64 { return float64(s.Routes) }),
		counter(p+"route_changes_total", "Changes of the mesh's graph that routes follow.", l, func(s *S) float64 { return float64(s.RouteChanges) }),
		counter(p+"dials_total", "Dials, successful or not.", l, func(s *S) float64 { return float64(s.Dials) }),
		counter(p+"dial_errors_total", "Dials that failed.", l, func(s *S) float64 { return float64(s.DialErrors) }),
		counter(p+"connections_not_authorized_total", "Connections refused because the caller's certificate names none of the listener's groups (AllowGroups).", l, func(s *S) float64 { return float64(s.ConnsNotAuthorized) }),
		counter(p+"services_ignored_total", "Services of other nodes' records that this node ignored: not named by their certificate (WithCertPolicy) or refused by WithServicePolicy, each time a record lists one.", l, func(s *S) float64 { return float64(s.ServicesIgnored) }),
	}
	c.info = prometheus.NewDesc(p+"node_info", "The node: 1, with its mesh name, whether it relays, is secured and enforces certificate policy as labels.", []string{"name", "relay", "secure", "cert_policy"}, l)
	c.dial = prometheus.NewDesc(p+"dial_duration_seconds", "The time successful dials took.", nil, l)
	type P = peerStats
	pl := func(name, help string, typ prometheus.ValueType, get func(*P) float64) metric[P] {
		return metric[P]{prometheus.NewDesc(p+name, help, []string{"peer"}, l), typ, get}
	}
	type R = mesh.RevocationInfo
	c.rev = []metric[R]{
		gauge(p+"revocation_list_sequence", "The sequence number of the revocation list the node holds; 0: none.", l, func(r *R) float64 { return float64(r.Seq) }),
		gauge(p+"revoked_nodes", "Node ids the revocation list held revokes.", l, func(r *R) float64 { return float64(r.Count) }),
		counter(p+"revocation_lists_refused_total", "Revocation lists refused: malformed, or not signed by a root CA of the mesh pool.", l, func(r *R) float64 { return float64(r.Refused) }),
		counter(p+"revocation_lists_stale_total", "Revocation lists dropped as not newer than the one held (copies, replays), unchecked.", l, func(r *R) float64 { return float64(r.Stale) }),
	}
	c.peer = []metric[P]{
		pl("peer_links", "Links up now to the neighbour peer.", prometheus.GaugeValue, func(s *P) float64 { return float64(s.links) }),
		pl("peer_received_bytes_total", "Bytes read from the links to peer that are up (a counter that restarts when they do).", prometheus.CounterValue, func(s *P) float64 { return float64(s.bytesIn) }),
		pl("peer_sent_bytes_total", "Bytes written to the links to peer that are up.", prometheus.CounterValue, func(s *P) float64 { return float64(s.bytesOut) }),
		pl("peer_received_frames_total", "Mux frames read from the links to peer that are up.", prometheus.CounterValue, func(s *P) float64 { return float64(s.framesIn) }),
		pl("peer_sent_frames_total", "Mux frames queued for writing on the links to peer that are up.", prometheus.CounterValue, func(s *P) float64 { return float64(s.framesOut) }),
		pl("peer_streams", "Streams open now on the sessions of the links to peer.", prometheus.GaugeValue, func(s *P) float64 { return float64(s.streams) }),
		pl("peer_connections", "Connections open now between this node and peer.", prometheus.GaugeValue, func(s *P) float64 { return float64(s.conns) }),
		pl("peer_rtt_seconds", "The last keep-alive round trip to peer, on the newest link that measured one; 0 until one did.", prometheus.GaugeValue, func(s *P) float64 { return s.rtt }),
		pl("peer_link_start_time_seconds", "When the newest link to peer came up, in unix seconds.", prometheus.GaugeValue, func(s *P) float64 { return s.since }),
	}
	return c
}

// Describe sends the descriptions of every metric of the collector.
func (c *NodeCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(c.metrics, ch)
	describe(c.rev, ch)
	ch <- c.info
	ch <- c.dial
	describe(c.peer, ch)
}

// Collect reads the node's Stats, Info and Links and sends them.
func (c *NodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.Stats()
	collect(c.metrics, &s, ch)
	info := c.node.Info()
	collect(c.rev, &info.Revocation, ch)
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, info.Name, strconv.FormatBool(info.Relay), strconv.FormatBool(info.Secure), strconv.FormatBool(info.CertPolicy))
	ch <- histogram(c.dial, s.DialLatency)

	peers := make(map[uint64]*peerStats)
	var order []uint64
	for _, l := range c.node.Links() { // sorted by peer, then since: the newest link last
		ps := peers[l.Peer]
		if ps == nil {
			ps = &peerStats{}
			peers[l.Peer] = ps
			order = append(order, l.Peer)
		}
		ps.links++
		ps.bytesIn += l.Stats.BytesIn
		ps.bytesOut += l.Stats.BytesOut
		ps.framesIn += l.Stats.FramesIn
		ps.framesOut += l.Stats.FramesOut
		ps.streams += l.Stats.Streams
		ps.conns += l.Conns
		if l.Stats.RTT > 0 {
			ps.rtt = l.Stats.RTT.Seconds()
		}
		ps.since = float64(l.Since.UnixNano()) / 1e9
	}
	for _, peer := range order {
		ps := peers[peer]
		for _, m := range c.peer {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.get(ps), mesh.FormatID(peer))
		}
	}
}

// histogram converts a mesh.Histogram of durations to a Prometheus
// histogram in seconds.
func histogram(desc *prometheus.Desc, h mesh.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum.Seconds(), buckets)
}
