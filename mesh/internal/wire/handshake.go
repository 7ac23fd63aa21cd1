package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// The control stream of a link (the first stream the dialing side opens)
// carries messages framed as: type (1 byte), body length (4 bytes), body.
//
// The handshake is three messages: the dialer's hello, the acceptor's hello
// (or a refusal), and the dialer's ready (or a refusal). Records follow in
// both directions. A refusal names the rule that refused, so both sides
// report the same clear error.
const (
	MsgHello  uint8 = 0x01 // body: the hello below
	MsgRefuse uint8 = 0x02 // body: code (1), reason length (1), reason
	MsgReady  uint8 = 0x03 // empty body: the dialer accepts the link
	MsgRecord uint8 = 0x04 // body: an encoded record (linkstate's record.go)
	// MsgRevocation's body is an encoded revocation list (mesh's revoke.go).
	MsgRevocation uint8 = 0x05
)

// Version is the mesh protocol version: of the hello and of the attach
// preamble. Package mesh exports it. Version 2: a link's connections are
// class streams of its session (mux's preface version 2), no longer the
// streams of a connection session on its second stream.
const Version = 2

// helloMagic opens every hello: "PXMH".
var helloMagic = [4]byte{'P', 'X', 'M', 'H'}

// Hello flags.
const (
	HelloRelay   uint8 = 1 << 0 // the sender relays circuits
	HelloSecured uint8 = 1 << 1 // the sender runs WithTLS
	HelloLists   uint8 = 1 << 2 // the sender takes REVOCATION messages (MsgRevocation): a secured node of this revision
	HelloDirect  uint8 = 1 << 3 // the sender dialed the link as the direct upgrade of a relayed pair
)

// ctrlHeaderLen is the size of a control message header.
const ctrlHeaderLen = 5

// MaxRefuseReason bounds the reason text of a refusal.
const MaxRefuseReason = 255

// Hello is the first message of each side of a link.
type Hello struct {
	Version uint8
	Flags   uint8
	ID      uint64
	Name    string
}

// AppendHello encodes h: magic (4), version (1), flags (1), id (8), name
// length (1), name.
func AppendHello(b []byte, h Hello) []byte {
	b = append(b, helloMagic[:]...)
	b = append(b, h.Version, h.Flags)
	b = binary.BigEndian.AppendUint64(b, h.ID)
	b = append(b, uint8(len(h.Name)))
	return append(b, h.Name...)
}

// ParseHello decodes a hello body. A hello of another version is reported
// with ErrVersion as soon as its version byte is read, so that later
// versions may change what follows.
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	if len(b) < 5 || !bytes.Equal(b[:4], helloMagic[:]) {
		return h, fmt.Errorf("%w: link handshake: not a mesh hello", base.ErrProtocol)
	}
	h.Version = b[4]
	if h.Version != Version {
		return h, fmt.Errorf("%w: a hello of version %d reached a node of version %d", base.ErrVersion, h.Version, Version)
	}
	if len(b) < 15 {
		return h, fmt.Errorf("%w: link handshake: hello of %d bytes is too short", base.ErrProtocol, len(b))
	}
	h.Flags = b[5]
	h.ID = binary.BigEndian.Uint64(b[6:14])
	n := int(b[14])
	if len(b) != 15+n {
		return h, fmt.Errorf("%w: link handshake: hello length %d does not match its name length %d", base.ErrProtocol, len(b), n)
	}
	if n == 0 || n > base.MaxNameLen {
		return h, fmt.Errorf("%w: link handshake: mesh name of %d bytes", base.ErrProtocol, n)
	}
	h.Name = string(b[15:])
	if h.ID == 0 {
		return h, fmt.Errorf("%w: link handshake: node id 0", base.ErrProtocol)
	}
	return h, nil
}

// AppendRefuse encodes a refusal body: the refusal code c (mesh's code
// type; never 0, which is ok) and the reason, cut at MaxRefuseReason bytes.
func AppendRefuse(b []byte, c uint8, reason string) []byte {
	if len(reason) > MaxRefuseReason {
		reason = reason[:MaxRefuseReason]
	}
	b = append(b, c, uint8(len(reason)))
	return append(b, reason...)
}

// ParseRefuse decodes a refusal body into its code and reason.
func ParseRefuse(b []byte) (uint8, string, error) {
	if len(b) < 2 || len(b) != 2+int(b[1]) {
		return 0, "", fmt.Errorf("%w: malformed refusal", base.ErrProtocol)
	}
	if b[0] == 0 {
		return 0, "", fmt.Errorf("%w: refusal with code ok", base.ErrProtocol)
	}
	return b[0], string(b[2:]), nil
}

// AppendCtrl frames one control message.
func AppendCtrl(b []byte, typ uint8, body []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// ReadCtrl reads one control message whose body is at most max bytes,
// refusing a longer one before allocating it.
func ReadCtrl(r io.Reader, max int) (uint8, []byte, error) {
	return ReadCtrlFor(r, func(uint8) int { return max })
}

// ReadCtrlFor is ReadCtrl with a cap per message type: maxOf(type).
func ReadCtrlFor(r io.Reader, maxOf func(typ uint8) int) (uint8, []byte, error) {
	var h [ctrlHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if max := maxOf(h[0]); int64(n) > int64(max) {
		return 0, nil, &Oversize{Type: h[0], N: n, Max: max}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, noEOF(err)
	}
	return h[0], body, nil
}

// Oversize reports a control message longer than the reader accepts. Its
// body of N bytes is still on the stream: skip it to read on.
type Oversize struct {
	Type uint8
	N    uint32
	Max  int
}

func (e *Oversize) Error() string {
	if e.Type == MsgRecord {
		return fmt.Sprintf("mesh: limit reached: MaxRecordSize (%d): record of %d bytes", e.Max, e.N)
	}
	return fmt.Sprintf("mesh: protocol error: control message type %#x of %d bytes (at most %d)", e.Type, e.N, e.Max)
}

// Is makes an oversize record ErrLimit, and any other ErrProtocol.
func (e *Oversize) Is(target error) bool {
	if e.Type == MsgRecord {
		return target == base.ErrLimit
	}
	return target == base.ErrProtocol
}

// noEOF turns an io.EOF in the middle of a message into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// The role preamble of Attach, where neither end is the dialer: each side
// sends "PXMA", the version, three zero bytes and 8 random bytes; the side
// with the larger number is the dialing side (mux client, TLS client).
var attachMagic = [4]byte{'P', 'X', 'M', 'A'}

// AttachLen is the size of the attach preamble.
const AttachLen = 16

// AppendAttach encodes our attach preamble, of the random nonce.
func AppendAttach(b []byte, nonce uint64) []byte {
	b = append(b, attachMagic[:]...)
	b = append(b, Version, 0, 0, 0)
	return binary.BigEndian.AppendUint64(b, nonce)
}

// ParseAttach decodes the peer's attach preamble, returning its nonce.
func ParseAttach(b []byte) (uint64, error) {
	if len(b) != AttachLen || !bytes.Equal(b[:4], attachMagic[:]) {
		return 0, fmt.Errorf("%w: attach: the peer did not send the attach preamble (both ends of an attached pipe must call Attach)", base.ErrProtocol)
	}
	if b[4] != Version {
		return 0, fmt.Errorf("%w: attach: peer speaks mesh protocol version %d, we speak %d", base.ErrVersion, b[4], Version)
	}
	return binary.BigEndian.Uint64(b[8:]), nil
}
