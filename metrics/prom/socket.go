package prom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexusnet/plexus/mux"
	"github.com/plexusnet/plexus/socket"
)

// SocketCollector is a prometheus.Collector of a message socket's Stats.
// Every metric has the label socket, the name given to
// NewSocketCollector, so that the collectors of several sockets go in one
// registry (their names must differ).
type SocketCollector struct {
	sock    socket.Socket
	metrics []metric[socket.Stats]
}

// NewSocketCollector returns the collector of s, whose metrics have the
// label socket="name". It reads s.Stats at each scrape.
func NewSocketCollector(name string, s socket.Socket) *SocketCollector {
	l := prometheus.Labels{"socket": name}
	const p = "plexus_socket_"
	type S = socket.Stats
	return &SocketCollector{sock: s, metrics: []metric[S]{
		gauge(p+"pipes", "Pipes (connections to peers) open now.", l, func(s *S) float64 { return float64(s.Pipes) }),
		counter(p+"pipes_opened_total", "Pipes opened.", l, func(s *S) float64 { return float64(s.PipesOpened) }),
		counter(p+"pipes_closed_total", "Pipes closed.", l, func(s *S) float64 { return float64(s.PipesClosed) }),
		counter(p+"reconnects_total", "Pipes a dialer opened after its first.", l, func(s *S) float64 { return float64(s.Reconnects) }),
		counter(p+"sent_messages_total", "Messages written to pipes.", l, func(s *S) float64 { return float64(s.MsgsSent) }),
		counter(p+"sent_bytes_total", "Bytes of the messages written to pipes, headers included.", l, func(s *S) float64 { return float64(s.BytesSent) }),
		counter(p+"received_messages_total", "Messages read from pipes.", l, func(s *S) float64 { return float64(s.MsgsRecv) }),
		counter(p+"received_bytes_total", "Bytes of the messages read from pipes, headers included.", l, func(s *S) float64 { return float64(s.BytesRecv) }),
		counter(p+"dropped_messages_total", "Messages dropped: a full queue when best effort or for SendTo, or queued for a pipe that closed.", l, func(s *S) float64 { return float64(s.Dropped) }),
		counter(p+"peer_full_total", "Sends to one pipe that failed with ErrPeerFull, its queue being full.", l, func(s *S) float64 { return float64(s.PeerFull) }),
		counter(p+"ttl_dropped_messages_total", "Messages received with no hops left, or too long a backtrace.", l, func(s *S) float64 { return float64(s.TTLDropped) }),
		counter(p+"filtered_messages_total", "Messages discarded by a receive filter, the protocol (a late or duplicate reply, a topic not subscribed) or WithNoRecv.", l, func(s *S) float64 { return float64(s.Filtered) }),
		counter(p+"broken_paths_total", "Sends whose path led to no pipe.", l, func(s *S) float64 { return float64(s.BrokenPaths) }),
		counter(p+"oversize_closes_total", "Pipes closed because the peer sent a message over the size limit.", l, func(s *S) float64 { return float64(s.Oversize) }),
		counter(p+"protocol_error_closes_total", "Pipes closed because the peer broke the wire format.", l, func(s *S) float64 { return float64(s.ProtocolErrors) }),
		counter(p+"refused_pipes_total", "Accepted peers closed at once, over WithMaxPeers or WithMaxPeersPerListener.", l, func(s *S) float64 { return float64(s.Refused) }),
		counter(p+"idle_timeouts_total", "Accepted pipes closed by WithIdleTimeout.", l, func(s *S) float64 { return float64(s.IdleTimeouts) }),
	}}
}

// Describe sends the descriptions of every metric of the collector.
func (c *SocketCollector) Describe(ch chan<- *prometheus.Desc) { describe(c.metrics, ch) }

// Collect reads the socket's Stats and sends them.
func (c *SocketCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sock.Stats()
	collect(c.metrics, &s, ch)
}

// SessionCollector is a prometheus.Collector of a mux session's Stats.
// Every metric has the label session, the name given to
// NewSessionCollector (names must differ within a registry).
type SessionCollector struct {
	sess    *mux.Session
	metrics []metric[mux.Stats]
}

// NewSessionCollector returns the collector of s, whose metrics have the
// label session="name". It reads s.Stats at each scrape.
func NewSessionCollector(name string, s *mux.Session) *SessionCollector {
	l := prometheus.Labels{"session": name}
	const p = "plexus_mux_"
	type S = mux.Stats
	return &SessionCollector{sess: s, metrics: []metric[S]{
		counter(p+"received_bytes_total", "Bytes read from the session's connection.", l, func(s *S) float64 { return float64(s.BytesIn) }),
		counter(p+"sent_bytes_total", "Bytes written to the session's connection.", l, func(s *S) float64 { return float64(s.BytesOut) }),
		counter(p+"received_frames_total", "Frames read.", l, func(s *S) float64 { return float64(s.FramesIn) }),
		counter(p+"sent_frames_total", "Frames queued for writing.", l, func(s *S) float64 { return float64(s.FramesOut) }),
		counter(p+"streams_opened_total", "Streams this side opened.", l, func(s *S) float64 { return float64(s.StreamsOpened) }),
		counter(p+"streams_accepted_total", "Streams the peer opened that this side took.", l, func(s *S) float64 { return float64(s.StreamsAccepted) }),
		gauge(p+"streams", "Streams open now.", l, func(s *S) float64 { return float64(s.Streams) }),
		gauge(p+"rtt_seconds", "The last round trip a keep-alive or Ping measured; 0 until one did.", l, func(s *S) float64 { return s.RTT.Seconds() }),
	}}
}

// Describe sends the descriptions of every metric of the collector.
func (c *SessionCollector) Describe(ch chan<- *prometheus.Desc) { describe(c.metrics, ch) }

// Collect reads the session's Stats and sends them.
func (c *SessionCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sess.Stats()
	collect(c.metrics, &s, ch)
}
