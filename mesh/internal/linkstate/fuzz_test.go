package linkstate

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// FuzzRecord: a record decodes or is refused with ErrBadRecord (or a
// limit); what decodes re-encodes to the same bytes, and the routing
// state machine takes it without panicking.
func FuzzRecord(f *testing.F) {
	for _, r := range []*Record{
		{ID: 1, Seq: 2, Expiry: 3},
		{ID: 9, Seq: 1 << 60, Expiry: 1 << 50, Relay: true, Neighbours: []uint64{1, 2, 3},
			Services: []Service{{Env: "", Name: "billing", Port: 80}, {Env: "staging", Name: "x", Port: 1}}},
		{ID: 5, Seq: 1, Expiry: 1, Cert: []byte("not a certificate"), Sig: []byte("sig")},
		{ID: 6, Seq: 1, Expiry: 1, Name: "web-1.eu", Services: []Service{{Name: "web", Port: 80}}},
		{ID: 7, Seq: 1, Expiry: 1, Name: "edge", Advertise: []string{"203.0.113.7:7000", "[2001:db8::7]:7000"}},
		{ID: 8, Seq: 1, Expiry: 1, Advertise: []string{"relay.example.net:443"}},
	} {
		raw, _ := EncodeRecord(r, nil)
		if r.Sig != nil {
			raw = append(raw[:len(raw)-2], 0, byte(len(r.Sig)))
			raw = append(raw, r.Sig...)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b, 16)
		if err != nil {
			if !errors.Is(err, base.ErrBadRecord) && !errors.Is(err, base.ErrLimit) {
				t.Fatalf("error %v is neither ErrBadRecord nor ErrLimit", err)
			}
			return
		}
		again := AppendRecordBody(nil, r)
		if len(again) != r.SignedLen || !bytes.Equal(again, b[:r.SignedLen]) {
			t.Fatalf("round trip of %x: %x", b, again)
		}
		rt := testRouter(77, true)
		rt.LinkUp(r.ID, t0)
		now := time.UnixMilli(r.Expiry).Add(-time.Minute)
		rt.Receive(r, b, r.ID, now)
		rt.Routes()
		rt.Reachable(func(uint64, []Service, int) {})
		rt.Tick(now.Add(time.Hour))
	})
}
