package wire

import (
	"bytes"
	"testing"
)

// TestReadHeaderAllocs: a connection header read into the reader's own
// HeaderBuf costs no allocation but its name's string.
func TestReadHeaderAllocs(t *testing.T) {
	for _, c := range []struct {
		h    ConnHeader
		want float64
	}{
		{ConnHeader{Port: 80}, 0},
		{ConnHeader{Name: "billing"}, 1},
	} {
		raw := AppendConnHeader(nil, KindConnEarly, c.h)
		r := bytes.NewReader(raw)
		var buf HeaderBuf
		got := testing.AllocsPerRun(100, func() {
			r.Reset(raw)
			h, err := ReadHeader(r, 17, &buf)
			if err != nil || h.Conn != c.h {
				t.Fatalf("read %+v, %v; want %+v", h.Conn, err, c.h)
			}
		})
		if got > c.want {
			t.Errorf("%+v: %v allocations, want %v", c.h, got, c.want)
		}
	}
}

// TestConnHeaderLen: the length of a whole connection header, and not ok
// for a partial one or another kind.
func TestConnHeaderLen(t *testing.T) {
	for _, h := range []ConnHeader{{Port: 80}, {Name: "billing"}, {Env: "prod", Name: "db", Port: 5}, {Env: "e"}} {
		raw := AppendConnHeader(nil, KindConnEarly, h)
		if n, ok := ConnHeaderLen(append(raw, "data"...)); !ok || n != len(raw) {
			t.Errorf("%+v: ConnHeaderLen = %d, %v; want %d", h, n, ok, len(raw))
		}
		for i := range len(raw) {
			if _, ok := ConnHeaderLen(raw[:i]); ok {
				t.Errorf("%+v: ConnHeaderLen of %d of its %d bytes is ok", h, i, len(raw))
			}
		}
	}
	if _, ok := ConnHeaderLen(AppendSetupHeader(nil, SetupHeader{Hop: 1, Path: []uint64{1, 2}})); ok {
		t.Error("ConnHeaderLen of a setup header is ok")
	}
}
