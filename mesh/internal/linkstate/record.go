package linkstate

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// Record is a node's link-state record: who it is, which neighbours it
// has live links to, which services it offers, whether it relays. Each node
// originates its own; the newest sequence number of an id wins.
//
// Encoding (all integers big-endian):
//
//	version     1   recordVersion
//	flags       1   bit 0: the node relays; bit 1: a name follows the services;
//	                bit 2: advertised addresses follow the name; bit 3: the node
//	                accepts resumable circuits (WithResume)
//	id          8
//	seq         8   sequence number
//	expiry      8   unix milliseconds after which the record is void
//	neighbours  2+8n  count, then ids in strictly increasing order
//	services    2+…   count, then per service: env len (1), env, name len (1), name, port (4)
//	name        1+…   only with flag bit 1: length (1..base.MaxNodeNameLen), then the node's
//	                  name (base.CheckNodeName); an insecure node's, as WithNodeName gave it
//	advertise   1+…   only with flag bit 2: count (1..base.MaxAdvertise), then per address:
//	                  length (1), the address, HOST:PORT (base.CheckAdvertise), where the
//	                  node accepts links (WithAdvertise)
//	cert        2+…   length, then the node's certificate chain: the leaf's DER, then any
//	                  intermediates' DER, at most base.MaxChainBytes; empty when unsecured
//	sig         2+…   length, then the signature of every byte before this field; empty when unsecured
type Record struct {
	ID         uint64
	Seq        uint64
	Expiry     int64 // unix milliseconds
	Relay      bool
	Neighbours []uint64
	Services   []Service
	Name       string   // the node's own name (WithNodeName); "" for none, and on a secured node, whose name is its certificate's
	Advertise  []string // where the node accepts links (WithAdvertise), HOST:PORT; nil for none
	Resume     bool     // the node accepts resumable circuits (WithResume)
	Cert       []byte   // DER of the leaf, then of any intermediates; in a decoded record, a slice of the input
	Sig        []byte
	SignedLen  int // in a decoded record: the bytes the signature covers
}

// Service is one service in a record.
type Service struct {
	Env  string
	Name string
	Port uint32
}

const recordVersion = 1

// recordFlagRelay marks a node that relays, recordFlagName a record that
// carries a name, recordFlagAdvertise one that carries addresses,
// recordFlagResume a node that accepts resumable circuits.
const (
	recordFlagRelay     = 1 << 0
	recordFlagName      = 1 << 1
	recordFlagAdvertise = 1 << 2
	recordFlagResume    = 1 << 3
)

// MinRecordLen is the size of a record with no neighbours, services,
// certificate or signature.
const MinRecordLen = 1 + 1 + 8 + 8 + 8 + 2 + 2 + 2 + 2

// AppendRecordBody encodes r up to, not including, the signature field:
// the bytes the signature covers.
func AppendRecordBody(b []byte, r *Record) []byte {
	flags := uint8(0)
	if r.Relay {
		flags |= recordFlagRelay
	}
	if r.Name != "" {
		flags |= recordFlagName
	}
	if len(r.Advertise) > 0 {
		flags |= recordFlagAdvertise
	}
	if r.Resume {
		flags |= recordFlagResume
	}
	b = append(b, recordVersion, flags)
	b = binary.BigEndian.AppendUint64(b, r.ID)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Expiry))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Neighbours)))
	for _, n := range r.Neighbours {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Services)))
	for _, s := range r.Services {
		b = append(b, uint8(len(s.Env)))
		b = append(b, s.Env...)
		b = append(b, uint8(len(s.Name)))
		b = append(b, s.Name...)
		b = binary.BigEndian.AppendUint32(b, s.Port)
	}
	if r.Name != "" {
		b = append(b, uint8(len(r.Name)))
		b = append(b, r.Name...)
	}
	if len(r.Advertise) > 0 {
		b = append(b, uint8(len(r.Advertise)))
		for _, a := range r.Advertise {
			b = append(b, uint8(len(a)))
			b = append(b, a...)
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Cert)))
	return append(b, r.Cert...)
}

// EncodeRecord encodes r, signing it with sign when sign is not nil.
// r.Neighbours must be sorted (the router's origination does it).
func EncodeRecord(r *Record, sign func([]byte) ([]byte, error)) ([]byte, error) {
	if r.Name != "" {
		if err := base.CheckNodeName(r.Name); err != nil {
			return nil, fmt.Errorf("mesh: our record: %w", err)
		}
	}
	if err := CheckAdvertise(r.Advertise); err != nil {
		return nil, fmt.Errorf("mesh: our record: %w", err)
	}
	if len(r.Cert) > base.MaxChainBytes || len(r.Neighbours) > 1<<16-1 || len(r.Services) > 1<<16-1 {
		return nil, fmt.Errorf("mesh: our record does not fit its length fields (%d bytes of certificates, %d neighbours, %d services)", len(r.Cert), len(r.Neighbours), len(r.Services))
	}
	b := AppendRecordBody(make([]byte, 0, MinRecordLen+8*len(r.Neighbours)+32*len(r.Services)+len(r.Cert)+80), r)
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

// DecodeRecord parses an encoded record, checking its structure: exact
// length, sorted distinct non-zero neighbours other than the node itself,
// at most maxServices well-formed services. It checks neither signature
// nor expiry. The certificate and signature of the result are slices of b.
func DecodeRecord(b []byte, maxServices int) (*Record, error) {
	d := base.NewDecoder(b)
	if v := d.U8(); v != recordVersion && d.OK() {
		return nil, fmt.Errorf("%w: version %d (we speak %d)", base.ErrBadRecord, v, recordVersion)
	}
	r := &Record{}
	flags := d.U8()
	r.Relay = flags&recordFlagRelay != 0
	r.Resume = flags&recordFlagResume != 0
	r.ID = d.U64()
	r.Seq = d.U64()
	r.Expiry = int64(d.U64())
	if !d.OK() {
		return nil, fmt.Errorf("%w: %d bytes is too short", base.ErrBadRecord, len(b))
	}
	if flags&^(recordFlagRelay|recordFlagName|recordFlagAdvertise|recordFlagResume) != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", base.ErrBadRecord, flags)
	}
	if r.ID == 0 {
		return nil, fmt.Errorf("%w: node id 0", base.ErrBadRecord)
	}
	nn := int(d.U16())
	if nn > d.Left()/8 {
		return nil, fmt.Errorf("%w: %d neighbours in %d bytes", base.ErrBadRecord, nn, len(b))
	}
	if nn > 0 {
		r.Neighbours = make([]uint64, nn)
	}
	for i := range r.Neighbours {
		r.Neighbours[i] = d.U64()
		if r.Neighbours[i] == r.ID || r.Neighbours[i] == 0 || i > 0 && r.Neighbours[i] <= r.Neighbours[i-1] {
			return nil, fmt.Errorf("%w: neighbour list of %s is not sorted distinct ids of others", base.ErrBadRecord, base.FormatID(r.ID))
		}
	}
	ns := int(d.U16())
	if ns > maxServices {
		return nil, fmt.Errorf("%w: %s has %d services", &base.LimitError{Limit: "MaxServices", Max: maxServices}, base.FormatID(r.ID), ns)
	}
	if ns > d.Left()/7 {
		return nil, fmt.Errorf("%w: %d services in %d bytes", base.ErrBadRecord, ns, len(b))
	}
	for i := 0; i < ns && d.OK(); i++ {
		var s Service
		s.Env = string(d.Bytes(int(d.U8())))
		s.Name = string(d.Bytes(int(d.U8())))
		s.Port = d.U32()
		if !d.OK() {
			break
		}
		if err := base.CheckEnv(s.Env); err != nil {
			return nil, fmt.Errorf("%w: %v", base.ErrBadRecord, err)
		}
		if err := base.CheckName("service", s.Name); err != nil {
			return nil, fmt.Errorf("%w: %v", base.ErrBadRecord, err)
		}
		r.Services = append(r.Services, s)
	}
	if flags&recordFlagName != 0 {
		r.Name = string(d.Bytes(int(d.U8())))
		if !d.OK() {
			return nil, fmt.Errorf("%w: truncated", base.ErrBadRecord)
		}
		if err := base.CheckNodeName(r.Name); err != nil {
			return nil, fmt.Errorf("%w: %v", base.ErrBadRecord, err)
		}
	}
	if flags&recordFlagAdvertise != 0 {
		n := int(d.U8())
		if n == 0 || n > base.MaxAdvertise {
			return nil, fmt.Errorf("%w: %d advertised addresses (1 to %d)", base.ErrBadRecord, n, base.MaxAdvertise)
		}
		r.Advertise = make([]string, 0, n)
		for i := 0; i < n && d.OK(); i++ {
			r.Advertise = append(r.Advertise, string(d.Bytes(int(d.U8()))))
		}
		if !d.OK() {
			return nil, fmt.Errorf("%w: truncated", base.ErrBadRecord)
		}
		if err := CheckAdvertise(r.Advertise); err != nil {
			return nil, fmt.Errorf("%w: %v", base.ErrBadRecord, err)
		}
	}
	r.Cert = d.Bytes(int(d.U16()))
	if len(r.Cert) > base.MaxChainBytes {
		return nil, fmt.Errorf("%w: %w: record of %s carries %d bytes of certificates", base.ErrBadRecord, base.ErrChainCaps, base.FormatID(r.ID), len(r.Cert))
	}
	r.SignedLen = d.Offset()
	r.Sig = d.Bytes(int(d.U16()))
	if !d.OK() {
		return nil, fmt.Errorf("%w: truncated", base.ErrBadRecord)
	}
	if d.Left() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the signature", base.ErrBadRecord, d.Left())
	}
	if len(r.Cert) == 0 {
		r.Cert = nil
	}
	if len(r.Sig) == 0 {
		r.Sig = nil
	}
	return r, nil
}

// checkExpiry refuses a record that has expired or whose expiry lies more
// than maxAhead in the future (a record made to outlive its node).
func checkExpiry(r *Record, now time.Time, maxAhead time.Duration) error {
	ms := now.UnixMilli()
	switch {
	case r.Expiry <= ms:
		return fmt.Errorf("%w: record %s/%d expired %v ago", base.ErrBadRecord, base.FormatID(r.ID), r.Seq, time.Duration(ms-r.Expiry)*time.Millisecond)
	case r.Expiry-ms > maxAhead.Milliseconds():
		return fmt.Errorf("%w: record %s/%d expires in %v, more than %v ahead", base.ErrBadRecord, base.FormatID(r.ID), r.Seq, time.Duration(r.Expiry-ms)*time.Millisecond, maxAhead)
	}
	return nil
}

// CheckAdvertise checks the addresses a record advertises: at most
// base.MaxAdvertise, each base.CheckAdvertise's HOST:PORT.
func CheckAdvertise(addrs []string) error {
	if len(addrs) > base.MaxAdvertise {
		return fmt.Errorf("%w: %d advertised addresses (at most %d)", base.ErrBadAddress, len(addrs), base.MaxAdvertise)
	}
	for _, a := range addrs {
		if err := base.CheckAdvertise(a); err != nil {
			return err
		}
	}
	return nil
}
