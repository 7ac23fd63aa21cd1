package base

import (
	"errors"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, ok := range []string{"billing", "a", "x-1_y.z", strings.Repeat("a", MaxNameLen), "00c0ffee00c0ffeg"} {
		if err := CheckName("service", ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".x", "a b", "é", strings.Repeat("a", MaxNameLen+1), "00c0ffee00c0ffee"} {
		if err := CheckName("service", bad); !errors.Is(err, ErrBadAddress) {
			t.Errorf("CheckName(%q): %v, want ErrBadAddress", bad, err)
		}
	}
	if CheckEnv("") != nil || CheckEnv("staging") != nil || !errors.Is(CheckEnv(".x"), ErrBadAddress) {
		t.Error("CheckEnv")
	}
	if FormatID(0xc0ffee) != "0000000000c0ffee" || !IsID("00C0FFEE00c0ffee") || IsID("c0ffee") {
		t.Error("FormatID, IsID")
	}
}

func TestDecoderShortRead(t *testing.T) {
	d := NewDecoder([]byte{1, 0, 2, 0, 0, 0, 3})
	if d.U8() != 1 || d.U16() != 2 || d.Offset() != 3 || d.Left() != 4 || !d.OK() {
		t.Fatal("reads")
	}
	if d.U64() != 0 || d.OK() || d.U32() != 0 || d.Bytes(0) != nil {
		t.Fatal("after a short read every field is zero and OK is false")
	}
}

func TestErrors(t *testing.T) {
	if err := error(&LimitError{Limit: "MaxLinks", Max: 3}); !errors.Is(err, ErrLimit) || err.Error() != "mesh: limit reached: MaxLinks (3)" {
		t.Errorf("LimitError: %v", err)
	}
	if err := error(&RevokedError{ID: 1}); !errors.Is(err, ErrNotAuthorized) || !errors.Is(ErrChainCaps, ErrNotAuthorized) {
		t.Errorf("RevokedError: %v", err)
	}
}
