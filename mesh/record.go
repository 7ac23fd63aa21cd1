package mesh

import (
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// record is a node's link-state record: who it is, which neighbours it
// has live links to, which services it offers, whether it relays. Each node
// originates its own; the newest sequence number of an id wins.
//
// Encoding (all integers big-endian):
//
//	version     1   recordVersion
//	flags       1   bit 0: the node relays
//	id          8
//	seq         8   sequence number
//	expiry      8   unix milliseconds after which the record is void
//	neighbours  2+8n  count, then ids in strictly increasing order
//	services    2+…   count, then per service: env len (1), env, name len (1), name, port (4)
//	cert        2+…   length, then the node's certificate chain: the leaf's DER, then any
//	                  intermediates' DER, at most maxChainBytes; empty when unsecured
//	sig         2+…   length, then the signature of every byte before this field; empty when unsecured
type record struct {
	id         uint64
	seq        uint64
	expiry     int64 // unix milliseconds
	relay      bool
	neighbours []uint64
	services   []serviceEntry
	cert       []byte // DER of the leaf, then of any intermediates; in a decoded record, a slice of the input
	sig        []byte
	signedLen  int               // in a decoded record: the bytes the signature covers
	grants     *Grants           // once verifyRecord has verified it: what cert grants (not on the wire)
	leaf       *x509.Certificate // once verifyRecord has verified it: the certificate, parsed (not on the wire)
}

// serviceEntry is one service in a record.
type serviceEntry struct {
	env  string
	name string
	port uint32
}

const recordVersion = 1

// recordFlagRelay marks a node that relays.
const recordFlagRelay = 1 << 0

// recordMinLen is the size of a record with no neighbours, services,
// certificate or signature.
const recordMinLen = 1 + 1 + 8 + 8 + 8 + 2 + 2 + 2 + 2

// appendRecordBody encodes r up to, not including, the signature field:
// the bytes the signature covers.
func appendRecordBody(b []byte, r *record) []byte {
	flags := uint8(0)
	if r.relay {
		flags |= recordFlagRelay
	}
	b = append(b, recordVersion, flags)
	b = binary.BigEndian.AppendUint64(b, r.id)
	b = binary.BigEndian.AppendUint64(b, r.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.expiry))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.neighbours)))
	for _, n := range r.neighbours {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.services)))
	for _, s := range r.services {
		b = append(b, uint8(len(s.env)))
		b = append(b, s.env...)
		b = append(b, uint8(len(s.name)))
		b = append(b, s.name...)
		b = binary.BigEndian.AppendUint32(b, s.port)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.cert)))
	return append(b, r.cert...)
}

// encodeRecord encodes r, signing it with sign when sign is not nil.
// r.neighbours must be sorted (originate does it).
func encodeRecord(r *record, sign func([]byte) ([]byte, error)) ([]byte, error) {
	if len(r.cert) > maxChainBytes || len(r.neighbours) > 1<<16-1 || len(r.services) > 1<<16-1 {
		return nil, fmt.Errorf("mesh: our record does not fit its length fields (%d bytes of certificates, %d neighbours, %d services)", len(r.cert), len(r.neighbours), len(r.services))
	}
	b := appendRecordBody(make([]byte, 0, recordMinLen+8*len(r.neighbours)+32*len(r.services)+len(r.cert)+80), r)
	var sig []byte
	if sign != nil {
		var err error
		if sig, err = sign(b); err != nil {
			return nil, fmt.Errorf("mesh: signing our record: %w", err)
		}
	}
	if len(sig) > 1<<16-1 {
		return nil, fmt.Errorf("mesh: our record's signature has %d bytes", len(sig))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sig)))
	return append(b, sig...), nil
}

// decodeRecord parses an encoded record, checking its structure: exact
// length, sorted distinct non-zero neighbours other than the node itself,
// at most maxServices well-formed services. It checks neither signature
// nor expiry. The certificate and signature of the result are slices of b.
func decodeRecord(b []byte, maxServices int) (*record, error) {
	d := decoder{b: b}
	if v := d.u8(); v != recordVersion && d.ok() {
		return nil, fmt.Errorf("%w: version %d (we speak %d)", ErrBadRecord, v, recordVersion)
	}
	r := &record{}
	flags := d.u8()
	r.relay = flags&recordFlagRelay != 0
	r.id = d.u64()
	r.seq = d.u64()
	r.expiry = int64(d.u64())
	if !d.ok() {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrBadRecord, len(b))
	}
	if flags&^recordFlagRelay != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrBadRecord, flags)
	}
	if r.id == 0 {
		return nil, fmt.Errorf("%w: node id 0", ErrBadRecord)
	}
	nn := int(d.u16())
	if nn > d.left()/8 {
		return nil, fmt.Errorf("%w: %d neighbours in %d bytes", ErrBadRecord, nn, len(b))
	}
	if nn > 0 {
		r.neighbours = make([]uint64, nn)
	}
	for i := range r.neighbours {
		r.neighbours[i] = d.u64()
		if r.neighbours[i] == r.id || r.neighbours[i] == 0 || i > 0 && r.neighbours[i] <= r.neighbours[i-1] {
			return nil, fmt.Errorf("%w: neighbour list of %s is not sorted distinct ids of others", ErrBadRecord, FormatID(r.id))
		}
	}
	ns := int(d.u16())
	if ns > maxServices {
		return nil, fmt.Errorf("%w: %s has %d services", &LimitError{Limit: "MaxServices", Max: maxServices}, FormatID(r.id), ns)
	}
	if ns > d.left()/7 {
		return nil, fmt.Errorf("%w: %d services in %d bytes", ErrBadRecord, ns, len(b))
	}
	for i := 0; i < ns && d.ok(); i++ {
		var s serviceEntry
		s.env = string(d.bytes(int(d.u8())))
		s.name = string(d.bytes(int(d.u8())))
		s.port = d.u32()
		if !d.ok() {
			break
		}
		if err := checkEnv(s.env); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		if err := checkName("service", s.name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		r.services = append(r.services, s)
	}
	r.cert = d.bytes(int(d.u16()))
	if len(r.cert) > maxChainBytes {
		return nil, fmt.Errorf("%w: %w: record of %s carries %d bytes of certificates", ErrBadRecord, errChainCaps, FormatID(r.id), len(r.cert))
	}
	r.signedLen = d.off
	r.sig = d.bytes(int(d.u16()))
	if !d.ok() {
		return nil, fmt.Errorf("%w: truncated", ErrBadRecord)
	}
	if d.left() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the signature", ErrBadRecord, d.left())
	}
	if len(r.cert) == 0 {
		r.cert = nil
	}
	if len(r.sig) == 0 {
		r.sig = nil
	}
	return r, nil
}

// checkExpiry refuses a record that has expired or whose expiry lies more
// than maxAhead in the future (a record made to outlive its node).
func checkExpiry(r *record, now time.Time, maxAhead time.Duration) error {
	ms := now.UnixMilli()
	switch {
	case r.expiry <= ms:
		return fmt.Errorf("%w: record %s/%d expired %v ago", ErrBadRecord, FormatID(r.id), r.seq, time.Duration(ms-r.expiry)*time.Millisecond)
	case r.expiry-ms > maxAhead.Milliseconds():
		return fmt.Errorf("%w: record %s/%d expires in %v, more than %v ahead", ErrBadRecord, FormatID(r.id), r.seq, time.Duration(r.expiry-ms)*time.Millisecond, maxAhead)
	}
	return nil
}

// sameContent reports whether two records announce the same state.
func sameContent(a, b *record) bool {
	return a.relay == b.relay && slices.Equal(a.neighbours, b.neighbours) && slices.Equal(a.services, b.services)
}

// decoder reads big-endian fields; after a short read every field is zero
// and ok reports false.
type decoder struct {
	b   []byte
	off int
	bad bool
}

func (d *decoder) ok() bool  { return !d.bad }
func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) bytes(n int) []byte {
	if d.bad || d.left() < n {
		d.bad = true
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.bytes(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.bytes(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.bytes(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}
