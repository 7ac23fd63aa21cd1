package mux

import (
	"encoding/binary"
	"fmt"
)

// The framer: fixed-size headers, the preface, and the rules a single frame
// must obey on its own. It knows nothing of streams or sessions; the state
// machine in session.go applies the rules that need state.

// frameType is the kind of a frame.
type frameType uint8

const (
	typeData   frameType = 0x0 // stream bytes; flags SYN, FIN, EOM, CLASS
	typeWindow frameType = 0x1 // credit: 4-byte increment; stream 0 is the session (with CLASS, the class)
	typeReset  frameType = 0x2 // abort a stream: 4-byte error code
	typePing   frameType = 0x3 // 8 opaque bytes, echoed with flagACK
	typeGoAway frameType = 0x4 // no new streams: 4-byte error code
	typeMax              = typeGoAway
)

var typeNames = [...]string{"DATA", "WINDOW", "RESET", "PING", "GOAWAY"}

func (t frameType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%#x)", uint8(t))
}

// Frame flags. Undefined flags must be sent as zero and are ignored on receipt.
const (
	flagSYN uint8 = 0x01 // DATA: the first frame of a stream, which opens it
	flagFIN uint8 = 0x02 // DATA: the sender will send no more data on the stream
	flagEOM uint8 = 0x04 // DATA: the last byte of the payload ends a message
	flagACK uint8 = 0x01 // PING: this is the answer to a ping; WINDOW: the stream was accepted
	// flagClass: DATA: the stream is of the session's class (set on every
	// DATA frame of such a stream); WINDOW on stream 0: credit for the
	// class rather than the session. Only between sides that both
	// announced a class window (preface version 2).
	flagClass uint8 = 0x08
)

const (
	headerSize = 9 // length(3) type(1) flags(1) stream(4)

	// maxFrameLimit is the largest payload the 24-bit length can carry.
	maxFrameLimit = 1<<24 - 1

	// maxWindow is the largest a send window may grow to.
	maxWindow = 1<<31 - 1

	// The smallest settings a peer may announce. Until a side has read its
	// peer's preface it assumes exactly these, so it can open streams and send
	// data without waiting a round trip.
	minStreamWindow  = 64 << 10
	minSessionWindow = 256 << 10
	minFrameSize     = 16 << 10
	minAcceptBacklog = 1
)

// frameHeader is a decoded frame header.
type frameHeader struct {
	length   uint32 // payload bytes following the header
	typ      frameType
	flags    uint8
	streamID uint32
}

func (h frameHeader) String() string {
	return fmt.Sprintf("%v stream=%d len=%d flags=%#x", h.typ, h.streamID, h.length, h.flags)
}

// appendHeader appends the wire form of a header to b.
func appendHeader(b []byte, typ frameType, flags uint8, id uint32, length int) []byte {
	return append(b,
		byte(length>>16), byte(length>>8), byte(length),
		byte(typ), flags,
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// appendUint32Frame appends a frame whose payload is one 32-bit value:
// WINDOW, RESET and GOAWAY.
func appendUint32Frame(b []byte, typ frameType, flags uint8, id, v uint32) []byte {
	b = appendHeader(b, typ, flags, id, 4)
	return binary.BigEndian.AppendUint32(b, v)
}

// appendWindows appends the WINDOW frames that returning credit calls for:
// one for the session, or the class if class is flagClass, if session > 0;
// one for stream id if stream > 0.
func appendWindows(b []byte, session uint32, class uint8, id, stream uint32) []byte {
	if session > 0 {
		b = appendUint32Frame(b, typeWindow, class, 0, session)
	}
	if stream > 0 {
		b = appendUint32Frame(b, typeWindow, 0, id, stream)
	}
	return b
}

// appendPing appends a PING frame.
func appendPing(b []byte, flags uint8, opaque uint64) []byte {
	b = appendHeader(b, typePing, flags, 0, 8)
	return binary.BigEndian.AppendUint64(b, opaque)
}

// parseHeader decodes a header from the first headerSize bytes of b.
func parseHeader(b []byte) frameHeader {
	_ = b[headerSize-1]
	return frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      frameType(b[3]),
		flags:    b[4],
		streamID: binary.BigEndian.Uint32(b[5:9]),
	}
}

// check applies the rules that a frame header must obey by itself, given
// the largest payload this side accepts. It returns a descriptive error
// wrapping ErrProtocol.
func (h frameHeader) check(maxFrame uint32) error {
	switch h.typ {
	case typeData:
		if h.streamID == 0 {
			return protoErr("DATA frame on stream 0")
		}
		if h.length > maxFrame {
			return protoErr("DATA frame of %d bytes exceeds the maximum frame size %d", h.length, maxFrame)
		}
	case typeWindow:
		if h.length != 4 {
			return protoErr("WINDOW frame length %d, want 4", h.length)
		}
		if h.streamID == 0 && h.flags&flagACK != 0 {
			return protoErr("WINDOW with ACK on stream 0")
		}
	case typeReset:
		if h.length != 4 || h.streamID == 0 {
			return protoErr("bad RESET frame (%v)", h)
		}
	case typePing:
		if h.length != 8 || h.streamID != 0 {
			return protoErr("bad PING frame (%v)", h)
		}
	case typeGoAway:
		if h.length != 4 || h.streamID != 0 {
			return protoErr("bad GOAWAY frame (%v)", h)
		}
	default:
		return protoErr("unknown frame type %#x", uint8(h.typ))
	}
	return nil
}

// The preface opens the connection in both directions: each side sends it
// first, without waiting for the other's. A side with a class window
// (Config.ClassWindow) sends version 2, which adds it; a side without one
// sends version 1, exactly as before classes, and speaks both.
const (
	prefaceSize    = 24
	prefaceSize2   = 32 // version 2: the class window and accept backlog follow
	prefaceMagic   = "PLXMUX"
	protoVersion   = 1
	protoVersion2  = 2
	roleClient     = 1
	roleServer     = 2
	prefaceVersion = len(prefaceMagic)
	prefaceRole    = prefaceVersion + 1
)

// settings are what a side announces in its preface: what it will accept.
type settings struct {
	role          uint8
	streamWindow  uint32 // initial credit of every stream, in cost units
	sessionWindow uint32 // initial session-wide credit
	maxFrame      uint32 // largest DATA payload it accepts
	acceptBacklog uint32 // streams opened by the peer it holds unaccepted
	classWindow   uint32 // initial credit of the class; 0: the side has no class
	classBacklog  uint32 // class streams opened by the peer it holds unaccepted
}

// minSettings are assumed for the peer until its preface is read.
var minSettings = settings{streamWindow: minStreamWindow, sessionWindow: minSessionWindow,
	maxFrame: minFrameSize, acceptBacklog: minAcceptBacklog}

func appendPreface(b []byte, s settings) []byte {
	v := uint8(protoVersion)
	if s.classWindow > 0 {
		v = protoVersion2
	}
	b = append(b, prefaceMagic...)
	b = append(b, v, s.role)
	b = binary.BigEndian.AppendUint32(b, s.streamWindow)
	b = binary.BigEndian.AppendUint32(b, s.sessionWindow)
	b = binary.BigEndian.AppendUint32(b, s.maxFrame)
	b = binary.BigEndian.AppendUint32(b, s.acceptBacklog)
	if s.classWindow > 0 {
		b = binary.BigEndian.AppendUint32(b, s.classWindow)
		b = binary.BigEndian.AppendUint32(b, s.classBacklog)
	}
	return b
}

// prefaceLen returns the length of the preface that b begins with, once b
// holds its version byte; 0 until then, or if b is no preface (which
// parsePreface then rejects).
func prefaceLen(b []byte) int {
	if len(b) <= prefaceVersion {
		return 0
	}
	if b[prefaceVersion] == protoVersion2 {
		return prefaceSize2
	}
	return prefaceSize
}

// parsePreface decodes and validates a peer's preface.
func parsePreface(b []byte) (settings, error) {
	if len(b) < prefaceSize || string(b[:len(prefaceMagic)]) != prefaceMagic {
		return settings{}, protoErr("bad preface: not a plexus mux peer")
	}
	v := b[prefaceVersion]
	if v != protoVersion && v != protoVersion2 {
		return settings{}, protoErr("unsupported protocol version %d (this side speaks %d and %d)", v, protoVersion, protoVersion2)
	}
	if v == protoVersion2 && len(b) < prefaceSize2 {
		return settings{}, protoErr("bad preface: version 2 in %d bytes", len(b))
	}
	s := settings{
		role:          b[prefaceRole],
		streamWindow:  binary.BigEndian.Uint32(b[8:]),
		sessionWindow: binary.BigEndian.Uint32(b[12:]),
		maxFrame:      binary.BigEndian.Uint32(b[16:]),
		acceptBacklog: binary.BigEndian.Uint32(b[20:]),
	}
	if v == protoVersion2 {
		s.classWindow = binary.BigEndian.Uint32(b[24:])
		s.classBacklog = binary.BigEndian.Uint32(b[28:])
	}
	switch {
	case s.role != roleClient && s.role != roleServer:
		return settings{}, protoErr("bad preface: role %d", s.role)
	case s.streamWindow < minStreamWindow || s.streamWindow > maxWindow:
		return settings{}, protoErr("bad preface: stream window %d", s.streamWindow)
	case s.sessionWindow < minSessionWindow || s.sessionWindow > maxWindow:
		return settings{}, protoErr("bad preface: session window %d", s.sessionWindow)
	case s.maxFrame < minFrameSize || s.maxFrame > maxFrameLimit:
		return settings{}, protoErr("bad preface: max frame size %d", s.maxFrame)
	case s.acceptBacklog < minAcceptBacklog || s.acceptBacklog > maxWindow:
		return settings{}, protoErr("bad preface: accept backlog %d", s.acceptBacklog)
	case v == protoVersion2 && (s.classWindow < minSessionWindow || s.classWindow > maxWindow):
		return settings{}, protoErr("bad preface: class window %d", s.classWindow)
	case v == protoVersion2 && (s.classBacklog < minAcceptBacklog || s.classBacklog > maxWindow):
		return settings{}, protoErr("bad preface: class accept backlog %d", s.classBacklog)
	}
	return s, nil
}
