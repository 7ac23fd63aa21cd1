package socket

import (
	"errors"
	"fmt"
)

// rawHeaderLen is the fixed part of a HeaderRaw header.
const rawHeaderLen = 4

// maxRawPath is the longest path a HeaderRaw header can carry.
const maxRawPath = 255

var (
	// errTTL: the message has run out of hops; drop and count it.
	errTTL = errors.New("socket: TTL exhausted")
	// errMalformed: the peer broke the header rules; close its pipe.
	errMalformed = errors.New("socket: malformed message header")
	// errPathTooLong: a path does not fit the header.
	errPathTooLong = errors.New("socket: path too long")
)

// appendHeader appends the wire header of a message: src is the path the
// message came along (without the hop it will take next), dst the path it
// must still follow after that hop.
func appendHeader(b []byte, f HeaderFormat, ttl uint8, src, dst Path) ([]byte, error) {
	switch f {
	case HeaderRaw:
		if len(src) > maxRawPath || len(dst) > maxRawPath {
			return b, errPathTooLong
		}
		b = append(b, 0, ttl, byte(len(src)), byte(len(dst)))
		b = appendWords(b, src)
		return appendWords(b, dst), nil
	case HeaderRequest:
		return appendWords(b, src), nil
	case HeaderReply:
		return appendWords(b, dst), nil
	}
	return b, nil
}

// parsedHeader is what a receiver learns from a header.
type parsedHeader struct {
	len  int   // header bytes before the content
	ttl  uint8 // hops left after this one
	nsrc uint8 // HeaderRaw: source words
	ndst uint8 // HeaderRaw: destination words
}

// parseHeader checks the header of a received payload. maxHops is the
// socket's TTL, the longest backtrace accepted on the SP formats. It
// returns errTTL for a message that must be dropped and counted, and an
// error wrapping errMalformed for one that breaks the rules (its pipe is
// then closed, as NNG does).
func parseHeader(f HeaderFormat, b []byte, maxHops uint8) (parsedHeader, error) {
	switch f {
	case HeaderRaw:
		if len(b) < rawHeaderLen {
			return parsedHeader{}, fmt.Errorf("%w: %d bytes, want at least %d", errMalformed, len(b), rawHeaderLen)
		}
		if b[0] != 0 {
			return parsedHeader{}, fmt.Errorf("%w: unknown flags 0x%02x", errMalformed, b[0])
		}
		h := parsedHeader{nsrc: b[2], ndst: b[3]}
		h.len = rawHeaderLen + 4*(int(h.nsrc)+int(h.ndst))
		if len(b) < h.len {
			return parsedHeader{}, fmt.Errorf("%w: %d path words announced, %d bytes present", errMalformed, int(h.nsrc)+int(h.ndst), len(b))
		}
		if b[1] == 0 {
			return parsedHeader{}, errTTL
		}
		h.ttl = b[1] - 1
		return h, nil
	case HeaderRequest, HeaderReply:
		n, err := scanBacktrace(b, int(maxHops))
		if err != nil {
			return parsedHeader{}, err
		}
		return parsedHeader{len: 4 * n, ttl: maxHops - uint8(n)}, nil
	}
	return parsedHeader{ttl: maxHops}, nil
}

// scanBacktrace returns the number of words of the SP backtrace at the
// front of b: words up to and including the first one with the high bit
// set. More than maxWords words is errTTL (too many hops: dropped, as NNG
// does); running out of bytes first is malformed.
func scanBacktrace(b []byte, maxWords int) (int, error) {
	for n := 0; ; n++ {
		if n >= maxWords {
			return 0, errTTL
		}
		if len(b) < 4*(n+1) {
			return 0, fmt.Errorf("%w: backtrace ends without a request id after %d words", errMalformed, n)
		}
		if b[4*n]&0x80 != 0 {
			return n + 1, nil
		}
	}
}

// ParseBacktrace decodes the SP backtrace at the front of an NNG message
// body (req/rep, surveyor/respondent): the words up to and including the
// first one with the high bit set, at most maxHops of them. It returns
// the path and the content after it.
func ParseBacktrace(body []byte, maxHops int) (Path, []byte, error) {
	if maxHops > 255 {
		maxHops = 255
	}
	n, err := scanBacktrace(body, maxHops)
	if err != nil {
		return nil, nil, err
	}
	return wordsPath(make(Path, 0, n), body[:4*n]), body[4*n:], nil
}

// AppendBacktrace appends p as an SP backtrace (big-endian words).
func AppendBacktrace(b []byte, p Path) []byte { return appendWords(b, p) }

// split returns the source and the destination words of the header hdr
// (big-endian; for the SP formats, the backtrace is one or the other).
func (h parsedHeader) split(f HeaderFormat, hdr []byte) (src, dst []byte) {
	switch f {
	case HeaderRaw:
		s := rawHeaderLen + 4*int(h.nsrc)
		return hdr[rawHeaderLen:s], hdr[s:h.len]
	case HeaderReply:
		return hdr[:h.len], nil
	case HeaderRequest:
		return nil, hdr[:h.len]
	}
	return nil, nil
}

// paths fills the Source (the receiving pipe, then the path from the
// header) and the Destination of a received message, in one allocation at
// most: short paths live in the message itself.
func (h parsedHeader) paths(f HeaderFormat, hdr []byte, pipe uint32, m *Message) {
	src, dst := h.split(f, hdr)
	ns, nd := 1+len(src)/4, len(dst)/4
	var w []uint32
	if ns+nd <= len(m.words) {
		w = m.words[:ns+nd]
	} else {
		w = make([]uint32, ns+nd)
	}
	w[0] = pipe
	wordsPath(w[1:1:ns], src)
	m.Source = w[:ns:ns]
	if nd > 0 {
		wordsPath(w[ns:ns:ns+nd], dst)
		m.Destination = w[ns : ns+nd : ns+nd]
	}
}
