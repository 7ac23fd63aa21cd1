package resume

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// The frames on a path (docs/protocol.md, "resume"): a 4-byte header, the
// type and a 24-bit big-endian payload length, then the payload.
const (
	headerLen  = 4
	maxPayload = 64 << 10 // the largest DATA payload
)

// frameType is the first byte of a frame's header.
type frameType uint8

const (
	frameData  frameType = 0x0 // payload: the next bytes of the stream
	frameAck   frameType = 0x1 // payload: u64, the bytes the receiver has consumed
	framePing  frameType = 0x2 // no payload: answer with PONG
	framePong  frameType = 0x3 // no payload: the answer to PING
	frameClose frameType = 0x4 // payload: u64, the bytes sent before it; a graceful end
)

var frameNames = [...]string{"DATA", "ACK", "PING", "PONG", "CLOSE"}

func (t frameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return fmt.Sprintf("frame(%#x)", uint8(t))
}

// putHeader writes a frame header into b (at least headerLen bytes).
func putHeader(b []byte, t frameType, n int) {
	b[0] = byte(t)
	b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n)
}

// parseHeader decodes and checks a frame header: a known type with a
// length that type allows. Errors wrap ErrProtocol.
func parseHeader(b []byte) (frameType, int, error) {
	t := frameType(b[0])
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	var ok bool
	switch t {
	case frameData:
		ok = n > 0 && n <= maxPayload
	case frameAck, frameClose:
		ok = n == 8
	case framePing, framePong:
		ok = n == 0
	default:
		return 0, 0, fmt.Errorf("%w: unknown frame type %#x", ErrProtocol, uint8(t))
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: %v frame of %d bytes", ErrProtocol, t, n)
	}
	return t, n, nil
}

// readU64 reads the 8-byte payload of an ACK or CLOSE.
func readU64(r io.Reader) (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// The messages of the resume exchange, sent on a new path before any
// frame: HELLO from each side, then RESUME from each side.
const (
	helloLen  = 4 + 1 + 1 + 16 + 32         // magic, version, kind, id, nonce
	resumeLen = 4 + 1 + 1 + 16 + 8 + 8 + 32 // magic, version, kind, id, generation, received, mac
	macOffset = resumeLen - sha256.Size
	version   = 1
	kindHello = 1
	kindRes   = 2
	nonceLen  = 32
)

var magic = [4]byte{'P', 'X', 'R', 'S'}

// macLabel starts every MAC's input, so that the key cannot be used to
// forge anything else.
const macLabel = "plexus resume v1 MAC"

// hello is a HELLO message: the id of the Conn to resume and a fresh nonce.
type hello struct {
	id    ID
	nonce [nonceLen]byte
}

func (h *hello) marshal() []byte {
	b := make([]byte, helloLen)
	copy(b, magic[:])
	b[4], b[5] = version, kindHello
	copy(b[6:22], h.id[:])
	copy(b[22:], h.nonce[:])
	return b
}

// parseHello decodes a HELLO; errors wrap ErrResumeRefused.
func parseHello(b []byte) (hello, error) {
	var h hello
	if err := checkPrefix(b, helloLen, kindHello); err != nil {
		return h, err
	}
	copy(h.id[:], b[6:22])
	copy(h.nonce[:], b[22:])
	return h, nil
}

// resumeMsg is a RESUME message: the sender's generation for this
// attempt, the stream bytes it has received, and its MAC.
type resumeMsg struct {
	id       ID
	gen      uint64
	received uint64
	mac      [sha256.Size]byte
}

// marshal encodes m with its MAC: HMAC-SHA256 under key of the label, the
// message up to the MAC, the sender's side, the sender's nonce and the
// receiver's nonce.
func (m *resumeMsg) marshal(key []byte, side byte, own, peer *[nonceLen]byte) []byte {
	b := make([]byte, resumeLen)
	copy(b, magic[:])
	b[4], b[5] = version, kindRes
	copy(b[6:22], m.id[:])
	binary.BigEndian.PutUint64(b[22:30], m.gen)
	binary.BigEndian.PutUint64(b[30:38], m.received)
	copy(b[macOffset:], resumeMAC(key, b[:macOffset], side, own, peer))
	copy(m.mac[:], b[macOffset:])
	return b
}

// parseResume decodes a RESUME (the MAC is checked by verify); errors wrap
// ErrResumeRefused.
func parseResume(b []byte) (resumeMsg, error) {
	var m resumeMsg
	if err := checkPrefix(b, resumeLen, kindRes); err != nil {
		return m, err
	}
	copy(m.id[:], b[6:22])
	m.gen = binary.BigEndian.Uint64(b[22:30])
	m.received = binary.BigEndian.Uint64(b[30:38])
	copy(m.mac[:], b[macOffset:])
	return m, nil
}

// verify checks the MAC of a RESUME sent by side, whose nonce is sender's
// and which answers receiver's nonce.
func (m *resumeMsg) verify(key []byte, side byte, sender, receiver *[nonceLen]byte) bool {
	b := make([]byte, macOffset)
	copy(b, magic[:])
	b[4], b[5] = version, kindRes
	copy(b[6:22], m.id[:])
	binary.BigEndian.PutUint64(b[22:30], m.gen)
	binary.BigEndian.PutUint64(b[30:38], m.received)
	return hmac.Equal(m.mac[:], resumeMAC(key, b, side, sender, receiver))
}

func resumeMAC(key, msg []byte, side byte, sender, receiver *[nonceLen]byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(macLabel))
	h.Write(msg)
	h.Write([]byte{side})
	h.Write(sender[:])
	h.Write(receiver[:])
	return h.Sum(nil)
}

func checkPrefix(b []byte, n int, kind byte) error {
	switch {
	case len(b) != n:
		return refused(fmt.Errorf("%w: %d bytes", errMalformed, len(b)))
	case !bytes.Equal(b[:4], magic[:]):
		return refused(fmt.Errorf("%w: bad magic", errMalformed))
	case b[4] != version:
		return refused(fmt.Errorf("%w: version %d", errMalformed, b[4]))
	case b[5] != kind:
		return refused(fmt.Errorf("%w: kind %d, want %d", errMalformed, b[5], kind))
	}
	return nil
}
