package base

import "encoding/binary"

// Decoder reads big-endian fields from a byte slice; after a short read
// every field is zero and OK reports false.
type Decoder struct {
	b   []byte
	off int
	bad bool
}

// NewDecoder returns a Decoder that reads b from its start.
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// OK reports whether every read so far found its bytes.
func (d *Decoder) OK() bool { return !d.bad }

// Left returns the number of bytes not read yet.
func (d *Decoder) Left() int { return len(d.b) - d.off }

// Offset returns the number of bytes read.
func (d *Decoder) Offset() int { return d.off }

// Bytes reads n bytes, as a slice of the input (whose capacity ends with
// it); nil after a short read.
func (d *Decoder) Bytes(n int) []byte {
	if d.bad || d.Left() < n {
		d.bad = true
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

// U8 reads one byte.
func (d *Decoder) U8() uint8 {
	if p := d.Bytes(1); p != nil {
		return p[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (d *Decoder) U16() uint16 {
	if p := d.Bytes(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (d *Decoder) U32() uint32 {
	if p := d.Bytes(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (d *Decoder) U64() uint64 {
	if p := d.Bytes(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}
