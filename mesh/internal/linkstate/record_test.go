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
