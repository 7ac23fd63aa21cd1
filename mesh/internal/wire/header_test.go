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
