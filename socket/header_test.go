package socket

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		f        HeaderFormat
		src, dst Path
		// what the receiver sees after its pipe id 7
		wantSrc, wantDst Path
	}{
		{"raw", HeaderRaw, Path{1, 2}, Path{3}, Path{7, 1, 2}, Path{3}},
		{"raw empty", HeaderRaw, nil, nil, Path{7}, nil},
		{"none", HeaderNone, Path{1}, Path{2}, Path{7}, nil},
		{"request", HeaderRequest, Path{1, 0x80000009}, nil, nil, nil},
		{"reply", HeaderReply, nil, Path{5, 0x8000000a}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := appendHeader(nil, tt.f, 9, tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, "body"...)
			// The request format is read by a HeaderReply socket and the
			// reply format by a HeaderRequest one.
			rf := tt.f
			switch tt.f {
			case HeaderRequest:
				rf, tt.wantSrc = HeaderReply, append(Path{7}, tt.src...)
			case HeaderReply:
				rf, tt.wantSrc, tt.wantDst = HeaderRequest, Path{7}, tt.dst
			}
			h, err := parseHeader(rf, b, 8)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[h.len:], []byte("body")) {
				t.Fatalf("content %q", b[h.len:])
			}
			m := &Message{}
			h.paths(rf, b[:h.len], 7, m)
			if !reflect.DeepEqual(m.Source, tt.wantSrc) || !reflect.DeepEqual(m.Destination, tt.wantDst) {
				t.Fatalf("source %v destination %v", m.Source, m.Destination)
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	long := make(Path, 256)
	if _, err := appendHeader(nil, HeaderRaw, 1, long, nil); !errors.Is(err, errPathTooLong) {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    HeaderFormat
		b    []byte
		err  error
	}{
		{"raw ttl 0", HeaderRaw, []byte{0, 0, 0, 0}, errTTL},
		{"raw short", HeaderRaw, []byte{0, 1, 0}, errMalformed},
		{"raw flags", HeaderRaw, []byte{1, 1, 0, 0}, errMalformed},
		{"raw truncated path", HeaderRaw, []byte{0, 1, 0, 1, 0, 0}, errMalformed},
		{"backtrace no end", HeaderReply, []byte{0, 0, 0, 1, 0, 0, 0, 2}, errMalformed},
		{"backtrace empty", HeaderRequest, nil, errMalformed},
		{"backtrace too long", HeaderReply, bytes.Repeat([]byte{0, 0, 0, 1}, 9), errTTL},
	}
	for _, tt := range tests {
		if _, err := parseHeader(tt.f, tt.b, 8); !errors.Is(err, tt.err) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
		}
	}
}

func TestParseBacktrace(t *testing.T) {
	body := AppendBacktrace(nil, Path{1, 2, 0x80000003})
	body = append(body, "req"...)
	p, rest, err := ParseBacktrace(body, 8)
	if err != nil || !reflect.DeepEqual(p, Path{1, 2, 0x80000003}) || string(rest) != "req" {
		t.Fatal(p, string(rest), err)
	}
	if _, _, err := ParseBacktrace(body, 2); !errors.Is(err, errTTL) {
		t.Fatal(err)
	}
	if s := (Path{1, 0x80000002}).String(); s != "00000001.80000002" {
		t.Fatal(s)
	}
	if id, rest, ok := (Path{4, 5}).Pop(); !ok || id != 4 || !reflect.DeepEqual(rest, Path{5}) {
		t.Fatal(id, rest, ok)
	}
	if _, _, ok := (Path{}).Pop(); ok {
		t.Fatal("popped an empty path")
	}
	p2 := Path{1}
	c := p2.Clone()
	c[0] = 2
	if p2[0] != 1 || Path(nil).Clone() != nil {
		t.Fatal("Clone shares memory")
	}
}
