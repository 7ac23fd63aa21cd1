package socket

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRawHeader: the raw header decoder never panics, accepts only what
// the encoder can make, and round-trips it.
func FuzzRawHeader(f *testing.F) {
	b, _ := appendHeader(nil, HeaderRaw, 5, Path{1, 2}, Path{3})
	f.Add(append(b, "content"...))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(HeaderRaw, b, DefaultTTL)
		if err != nil {
			if !errors.Is(err, errTTL) && !errors.Is(err, errMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		m := &Message{}
		h.paths(HeaderRaw, b[:h.len], 0, m)
		again, err := appendHeader(nil, HeaderRaw, h.ttl+1, m.Source[1:], m.Destination)
		if err != nil || !bytes.Equal(again, b[:h.len]) {
			t.Fatalf("header % x re-encodes as % x (%v)", b[:h.len], again, err)
		}
	})
}

// FuzzBacktrace: the SP backtrace parser never panics, stops at the first
// word with the high bit set, and round-trips.
func FuzzBacktrace(f *testing.F) {
	f.Add(AppendBacktrace([]byte(nil), Path{1, 0x80000002}), 8)
	f.Add([]byte{0, 0, 0, 1}, 8)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1000 {
			return
		}
		p, rest, err := ParseBacktrace(b, max)
		if err != nil {
			if !errors.Is(err, errTTL) && !errors.Is(err, errMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(p) == 0 || len(p) > max || p[len(p)-1]&EndOfPath == 0 {
			t.Fatalf("path %v", p)
		}
		for _, w := range p[:len(p)-1] {
			if w&EndOfPath != 0 {
				t.Fatalf("path %v goes past the end word", p)
			}
		}
		if !bytes.Equal(append(AppendBacktrace(nil, p), rest...), b) {
			t.Fatal("does not round-trip")
		}
	})
}
