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
	// including the word with the high bit, becomes its Destination.
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

// Protocol tells a socket how to speak on the wire. Protocol packages
// define one value each (req.Protocol, rep.Protocol, ...); WithProtocol
// installs it.
type Protocol struct {
	// Self is announced to peers; Peer is the only protocol accepted from
	// them. Both are SP protocol ids and names (e.g. 0x30 "req").
	Self, Peer transport.Proto
	// Header is the routing header format.
	Header HeaderFormat
	// TTL is the default hop limit: the TTL of messages sent, and for the
	// SP backtrace formats the longest backtrace accepted (NNG uses 8).
	TTL uint8
}

// RawProtocolID is the SP protocol id of plexus's raw socket: 0xF000, the
// first id of the "local and experimental" protocol range 3840-4095 of
// nanomsg's sp-protocol-ids RFC, role 0. A raw socket pairs with raw
// sockets only.
const RawProtocolID = 0xF000

// RawProtocol is the protocol of socket.New without WithProtocol.
var RawProtocol = Protocol{
	Self:   transport.Proto{ID: RawProtocolID, Name: "plexus"},
	Peer:   transport.Proto{ID: RawProtocolID, Name: "plexus"},
	Header: HeaderRaw,
	TTL:    DefaultTTL,
}

// DefaultTTL is the hop limit of raw messages (multisocket's default).
const DefaultTTL = 16
