package transport

import "encoding/binary"

// A batch of frames is what a socket hands to Pipe.Send: zero or more
// frames back to back, each an 8-byte big-endian payload length followed by
// the payload. It is exactly the message framing of SP over TCP, so the tcp
// transport writes a batch as it is, in one system call.

// FrameHeaderLen is the size of the length prefix of a frame.
const FrameHeaderLen = 8

// BeginFrame appends room for a frame header to b and returns the extended
// slice and the offset of the header, to be completed by EndFrame once the
// payload has been appended.
func BeginFrame(b []byte) ([]byte, int) {
	off := len(b)
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0), off
}

// EndFrame writes the length of the payload appended since BeginFrame.
func EndFrame(b []byte, off int) {
	binary.BigEndian.PutUint64(b[off:], uint64(len(b)-off-FrameHeaderLen))
}

// AppendFrame appends one frame whose payload is the concatenation of parts.
func AppendFrame(b []byte, parts ...[]byte) []byte {
	b, off := BeginFrame(b)
	for _, p := range parts {
		b = append(b, p...)
	}
	EndFrame(b, off)
	return b
}

// NextFrame splits the first frame off a batch. ok is false when b does
// not start with a complete frame.
func NextFrame(b []byte) (payload, rest []byte, ok bool) {
	if len(b) < FrameHeaderLen {
		return nil, b, false
	}
	n := binary.BigEndian.Uint64(b)
	if n > uint64(len(b)-FrameHeaderLen) {
		return nil, b, false
	}
	end := FrameHeaderLen + int(n)
	return b[FrameHeaderLen:end:end], b[end:], true
}

// CountFrames returns the number of complete frames in b.
func CountFrames(b []byte) int {
	n := 0
	for {
		var ok bool
		if _, b, ok = NextFrame(b); !ok {
			return n
		}
		n++
	}
}
