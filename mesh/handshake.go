package mesh

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// The control stream of a link (the first stream the dialing side opens)
// carries messages framed as: type (1 byte), body length (4 bytes), body.
//
// The handshake is three messages: the dialer's hello, the acceptor's hello
// (or a refusal), and the dialer's ready (or a refusal). Records follow in
// both directions. A refusal names the rule that refused, so both sides
// report the same clear error.
const (
	msgHello  uint8 = 0x01 // body: the hello below
	msgRefuse uint8 = 0x02 // body: code (1), reason length (1), reason
	msgReady  uint8 = 0x03 // empty body: the dialer accepts the link
	msgRecord uint8 = 0x04 // body: an encoded record (record.go)
	// msgRevocation's body is an encoded revocation list (revoke.go).
	msgRevocation uint8 = 0x05
)

// Version is the mesh protocol version this package speaks.
const Version = 1

// helloMagic opens every hello: "PXMH".
var helloMagic = [4]byte{'P', 'X', 'M', 'H'}

// Hello flags.
const (
	helloRelay   uint8 = 1 << 0 // the sender relays circuits
	helloSecured uint8 = 1 << 1 // the sender runs WithTLS
	helloLists   uint8 = 1 << 2 // the sender takes REVOCATION messages (msgRevocation): a secured node of this revision
)

// ctrlHeaderLen is the size of a control message header.
const ctrlHeaderLen = 5

// maxRefuseReason bounds the reason text of a refusal.
const maxRefuseReason = 255

// hello is the first message of each side of a link.
type hello struct {
	version uint8
	flags   uint8
	id      uint64
	name    string
}

// appendHello encodes h: magic (4), version (1), flags (1), id (8), name
// length (1), name.
func appendHello(b []byte, h hello) []byte {
	b = append(b, helloMagic[:]...)
	b = append(b, h.version, h.flags)
	b = binary.BigEndian.AppendUint64(b, h.id)
	b = append(b, uint8(len(h.name)))
	return append(b, h.name...)
}

// parseHello decodes a hello body. A hello of another version is reported
// with ErrVersion as soon as its version byte is read, so that later
// versions may change what follows.
func parseHello(b []byte) (hello, error) {
	var h hello
	if len(b) < 5 || !bytes.Equal(b[:4], helloMagic[:]) {
		return h, fmt.Errorf("%w: link handshake: not a mesh hello", ErrProtocol)
	}
	h.version = b[4]
	if h.version != Version {
		return h, fmt.Errorf("%w: a hello of version %d reached a node of version %d", ErrVersion, h.version, Version)
	}
	if len(b) < 15 {
		return h, fmt.Errorf("%w: link handshake: hello of %d bytes is too short", ErrProtocol, len(b))
	}
	h.flags = b[5]
	h.id = binary.BigEndian.Uint64(b[6:14])
	n := int(b[14])
	if len(b) != 15+n {
		return h, fmt.Errorf("%w: link handshake: hello length %d does not match its name length %d", ErrProtocol, len(b), n)
	}
	if n == 0 || n > maxNameLen {
		return h, fmt.Errorf("%w: link handshake: mesh name of %d bytes", ErrProtocol, n)
	}
	h.name = string(b[15:])
	if h.id == 0 {
		return h, fmt.Errorf("%w: link handshake: node id 0", ErrProtocol)
	}
	return h, nil
}

// appendRefuse encodes a refusal body.
func appendRefuse(b []byte, c code, reason string) []byte {
	if len(reason) > maxRefuseReason {
		reason = reason[:maxRefuseReason]
	}
	b = append(b, uint8(c), uint8(len(reason)))
	return append(b, reason...)
}

// parseRefuse decodes a refusal body.
func parseRefuse(b []byte) (code, string, error) {
	if len(b) < 2 || len(b) != 2+int(b[1]) {
		return 0, "", fmt.Errorf("%w: malformed refusal", ErrProtocol)
	}
	if code(b[0]) == codeOK {
		return 0, "", fmt.Errorf("%w: refusal with code ok", ErrProtocol)
	}
	return code(b[0]), string(b[2:]), nil
}

// appendCtrl frames one control message.
func appendCtrl(b []byte, typ uint8, body []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// readCtrl reads one control message whose body is at most max bytes,
// refusing a longer one before allocating it.
func readCtrl(r io.Reader, max int) (uint8, []byte, error) {
	return readCtrlFor(r, func(uint8) int { return max })
}

// readCtrlFor is readCtrl with a cap per message type: maxOf(type).
func readCtrlFor(r io.Reader, maxOf func(typ uint8) int) (uint8, []byte, error) {
	var h [ctrlHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if max := maxOf(h[0]); int64(n) > int64(max) {
		return 0, nil, &oversize{typ: h[0], n: n, max: max}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, noEOF(err)
	}
	return h[0], body, nil
}

// oversize reports a control message longer than the reader accepts. Its
// body is still on the stream: skip it to read on.
type oversize struct {
	typ uint8
	n   uint32
	max int
}

func (e *oversize) Error() string {
	if e.typ == msgRecord {
		return fmt.Sprintf("mesh: limit reached: MaxRecordSize (%d): record of %d bytes", e.max, e.n)
	}
	return fmt.Sprintf("mesh: protocol error: control message type %#x of %d bytes (at most %d)", e.typ, e.n, e.max)
}

// Is makes an oversize record ErrLimit, and any other ErrProtocol.
func (e *oversize) Is(target error) bool {
	if e.typ == msgRecord {
		return target == ErrLimit
	}
	return target == ErrProtocol
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

const attachLen = 16

func appendAttach(b []byte, nonce uint64) []byte {
	b = append(b, attachMagic[:]...)
	b = append(b, Version, 0, 0, 0)
	return binary.BigEndian.AppendUint64(b, nonce)
}

func parseAttach(b []byte) (uint64, error) {
	if len(b) != attachLen || !bytes.Equal(b[:4], attachMagic[:]) {
		return 0, fmt.Errorf("%w: attach: the peer did not send the attach preamble (both ends of an attached pipe must call Attach)", ErrProtocol)
	}
	if b[4] != Version {
		return 0, fmt.Errorf("%w: attach: peer speaks mesh protocol version %d, we speak %d", ErrVersion, b[4], Version)
	}
	return binary.BigEndian.Uint64(b[8:]), nil
}
