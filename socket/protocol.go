package socket

import "github.com/plexusnet/plexus/transport"

// HeaderFormat says what routing information a protocol carries on the
// wire in front of the content of each message.
type HeaderFormat uint8

const (
	// HeaderRaw is the header of plexus's own raw protocol (RawProtocol):
	// a flags byte (zero), the TTL, the number of source and of
	// destination words, then the source and the destination path as
	// big-endian 32-bit words. Both paths travel, so raw sockets and
	// switches route in both directions.
	HeaderRaw HeaderFormat = iota
	// HeaderNone carries nothing: the SP protocols pub/sub, push/pull,
	// pair and bus. A received message's Source is just its pipe.
	HeaderNone
	// HeaderRequest is the requester side of an SP backtrace protocol
	// (req, surveyor): a message's Source path is sent as the backtrace in
	// front of the content (for an original request, just the request id
	// with its high bit set); a received reply's backtrace, up to and
	// including the word with the high bit, becomes its Destination. A
	// message sent without such a backtrace is ErrInvalidSendType: the
	// peer would close the pipe on it.
	HeaderRequest
	// HeaderReply is the replier side of an SP backtrace protocol (rep,
	// respondent): a received request's backtrace becomes its Source after
	// the pipe id; SendTo sends the rest of the path as the backtrace.
	HeaderReply
)

// String returns the format's name: raw, none, request or reply.
func (f HeaderFormat) String() string {
	switch f {
	case HeaderRaw:
		return "raw"
	case HeaderNone:
		return "none"
	case HeaderRequest:
		return "request"
	case HeaderReply:
		return "reply"
	}
	return "HeaderFormat(?)"
}

// Sends are the ways of sending a protocol has. A send its protocol does
// not have fails with ErrInvalidSendType.
type Sends uint8

const (
	// SendsOne: Send, and SendMsg of a message without a Destination, go
	// to one peer, chosen fairly among those ready to take it (push,
	// pair, req).
	SendsOne Sends = 1 << iota
	// SendsAll: SendAll goes to every peer connected now, and so do Send
	// and SendMsg without a Destination unless the protocol has SendsOne
	// too (pub, bus, surveyor). With both (the raw protocol), Send goes to
	// one peer unless WithSendMode(SendToAll) says otherwise.
	SendsAll
	// SendsPath: SendTo, and SendMsg of a message with a Destination, go
	// along a path (rep, respondent, the raw protocol).
	SendsPath
)

// SendsAny is every way of sending: the raw protocol's.
const SendsAny = SendsOne | SendsAll | SendsPath

// Protocol describes a protocol to the socket core: what it announces
// and accepts on the wire, its header, which sends and receives it
// allows, and, for a protocol that keeps state, the Handler each of its
// sockets gets. Protocol packages define one value each (req.Protocol,
// rep.Protocol, ...) and pass it to New with WithProtocol; everything
// else (the sends, the receives, the queues, the pipes) the core does,
// once for every protocol.
type Protocol struct {
	// Self is announced to peers; Peer is the only protocol accepted from
	// them. Both are SP protocol ids and names (e.g. 0x30 "req").
	Self, Peer transport.Proto
	// Header is the routing header format.
	Header HeaderFormat
	// TTL is the default hop limit: the TTL of messages sent, and for the
	// SP backtrace formats the longest backtrace accepted (NNG uses 8).
	TTL uint8
	// Sends are the ways of sending the protocol has; zero sends nothing
	// (pull, sub).
	Sends Sends
	// NoRecv: the protocol does not receive (push, pub). Its pipes are
	// still read, so that peers never stall, but what they send is
	// discarded (counted in Stats.Filtered) and every receive fails with
	// ErrInvalidRecvType.
	NoRecv bool
	// DropSlow: a send to every peer never waits for one whose queue is
	// full: that peer misses the message (counted in Stats.Dropped) and
	// the send succeeds, as NNG's pub0, bus0 and surveyor0 do. Without
	// it such a send waits for room at every peer, or with
	// WithSendBestEffort fails with ErrMsgDropped.
	DropSlow bool
	// MaxPeers bounds the pipes of each socket (pair: 1); zero is any
	// number. WithMaxPeers may lower it, not raise it.
	MaxPeers int
	// Handler, for a protocol that keeps state, makes the handler of each
	// new socket: its state and its hooks (see Handler). Nil for a
	// stateless protocol.
	Handler func() Handler
}

// RawProtocolID is the SP protocol id of plexus's raw socket: 0xF000, the
// first id of the "local and experimental" protocol range 3840-4095 of
// nanomsg's sp-protocol-ids RFC, role 0. A raw socket pairs with raw
// sockets only.
const RawProtocolID = 0xF000

// RawProtocol is the protocol of New without WithProtocol: every way of
// sending, both paths in every header.
var RawProtocol = Protocol{
	Self:   transport.Proto{ID: RawProtocolID, Name: "plexus"},
	Peer:   transport.Proto{ID: RawProtocolID, Name: "plexus"},
	Header: HeaderRaw,
	TTL:    DefaultTTL,
	Sends:  SendsAny,
}

// DefaultTTL is the hop limit of raw messages (multisocket's default).
const DefaultTTL = 16
