package wire

import "testing"

func TestHelloRoundTrip(t *testing.T) {
	h := Hello{Version: Version, Flags: HelloRelay, ID: 0xdeadbeef, Name: "prod"}
	got, err := ParseHello(AppendHello(nil, h))
	if err != nil || got != h {
		t.Fatalf("got %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("PXMH"), AppendHello(nil, Hello{Version: Version, ID: 0, Name: "x"}), AppendHello(nil, Hello{Version: Version, ID: 1, Name: ""}), append(AppendHello(nil, h), 0)} {
		if _, err := ParseHello(bad); err == nil {
			t.Errorf("ParseHello(%x) succeeded", bad)
		}
	}
}

// TestHelloWireExample checks the example of docs/protocol.md.
func TestHelloWireExample(t *testing.T) {
	got := AppendCtrl(nil, MsgHello, AppendHello(nil, Hello{Version: 1, Flags: HelloRelay, ID: 0xaa, Name: "prod"}))
	want := []byte{0x01, 0, 0, 0, 0x13, 'P', 'X', 'M', 'H', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0xaa, 4, 'p', 'r', 'o', 'd'}
	if string(got) != string(want) {
		t.Fatalf("% x", got)
	}
}
