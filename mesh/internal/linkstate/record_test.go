package linkstate

import (
	"errors"
	"testing"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// TestRecordName: a record carries a node name only when it has one (a
// record without one is byte for byte what it was before names), and a
// name that is not a node name is refused on both sides.
func TestRecordName(t *testing.T) {
	plain, err := EncodeRecord(&Record{ID: 1, Seq: 1, Expiry: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != MinRecordLen || plain[offFlags] != 0 {
		t.Fatalf("a record without a name: %x", plain)
	}
	named, err := EncodeRecord(&Record{ID: 1, Seq: 1, Expiry: 1, Name: "db.eu-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRecord(named, 16)
	if err != nil || r.Name != "db.eu-1" {
		t.Fatalf("DecodeRecord: %+v, %v", r, err)
	}
	for _, bad := range []string{"Web", "a b", "-x", "00c0ffee00c0ffee", string(make([]byte, 64))} {
		if _, err := EncodeRecord(&Record{ID: 1, Seq: 1, Expiry: 1, Name: bad}, nil); !errors.Is(err, base.ErrBadAddress) {
			t.Errorf("EncodeRecord with name %q: %v", bad, err)
		}
		raw := AppendRecordBody(nil, &Record{ID: 1, Seq: 1, Expiry: 1, Name: bad})
		raw = append(raw, 0, 0)
		if _, err := DecodeRecord(raw, 16); !errors.Is(err, base.ErrBadRecord) {
			t.Errorf("DecodeRecord with name %q: %v", bad, err)
		}
	}
	// The flag with a name of length 0.
	raw := AppendRecordBody(nil, &Record{ID: 1, Seq: 1, Expiry: 1})
	raw[offFlags] |= recordFlagName
	raw = append(raw[:len(raw)-2], 0, 0, 0, 0, 0)
	if _, err := DecodeRecord(raw, 16); !errors.Is(err, base.ErrBadRecord) {
		t.Errorf("an empty name: %v", err)
	}
}

// TestRecordAdvertise: a record carries advertised addresses only when it
// has some (a record without them is byte for byte what it was), at most
// base.MaxAdvertise of at most base.MaxAdvertiseLen bytes, each HOST:PORT;
// a record that breaks that is refused on both sides.
func TestRecordAdvertise(t *testing.T) {
	plain, err := EncodeRecord(&Record{ID: 1, Seq: 1, Expiry: 1, Name: "web"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain[offFlags] != recordFlagName {
		t.Fatalf("a record without addresses: flags %#x", plain[offFlags])
	}
	addrs := []string{"10.0.0.1:7000", "[2001:db8::1]:7000", "relay-1.example.net:443"}
	raw, err := EncodeRecord(&Record{ID: 1, Seq: 1, Expiry: 1, Name: "web", Advertise: addrs}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRecord(raw, 16)
	if err != nil || len(r.Advertise) != 3 || r.Advertise[1] != addrs[1] || r.Name != "web" {
		t.Fatalf("DecodeRecord: %+v, %v", r, err)
	}
	long := "ab.example:1"
	for len(long) <= base.MaxAdvertiseLen {
		long = "x" + long
	}
	for _, bad := range [][]string{
		{"10.0.0.1"}, {"10.0.0.1:0"}, {"10.0.0.1:65536"}, {":7000"}, {"a b:1"}, {"[::1:1"}, {"[10.0.0.1]:1"},
		{"-x:1"}, {"x:07"}, {long}, {"a:1", "b:1", "c:1", "d:1", "e:1"},
	} {
		if _, err := EncodeRecord(&Record{ID: 1, Seq: 1, Expiry: 1, Advertise: bad}, nil); !errors.Is(err, base.ErrBadAddress) {
			t.Errorf("EncodeRecord advertising %q: %v", bad, err)
		}
		raw := AppendRecordBody(nil, &Record{ID: 1, Seq: 1, Expiry: 1, Advertise: bad})
		raw = append(raw, 0, 0)
		if _, err := DecodeRecord(raw, 16); !errors.Is(err, base.ErrBadRecord) {
			t.Errorf("DecodeRecord advertising %q: %v", bad, err)
		}
	}
	// The flag with a count of 0.
	raw = AppendRecordBody(nil, &Record{ID: 1, Seq: 1, Expiry: 1})
	raw[offFlags] |= recordFlagAdvertise
	raw = append(raw[:len(raw)-2], 0, 0, 0, 0, 0)
	if _, err := DecodeRecord(raw, 16); !errors.Is(err, base.ErrBadRecord) {
		t.Errorf("no address: %v", err)
	}
}
