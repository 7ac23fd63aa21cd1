package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeTransport struct{ scheme string }

func (f fakeTransport) Scheme() string { return f.scheme }
func (fakeTransport) Dial(context.Context, *url.URL, *Config) (Pipe, error) {
	return nil, errors.New("fake")
}
func (fakeTransport) Listen(context.Context, *url.URL, *Config) (Listener, error) {
	return nil, errors.New("fake")
}

// runs makes the registered schemes unique when tests run more than once
// (-count): the registry is process-wide.
var runs int

func TestRegistry(t *testing.T) {
	runs++
	a := fmt.Sprint("fake-a", runs)
	Register(fakeTransport{a})
	if _, ok := Lookup(strings.ToUpper(a)); !ok {
		t.Fatal("lookup is not case-insensitive")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering a scheme twice did not panic")
			}
		}()
		Register(fakeTransport{a})
	}()
	found := false
	for _, s := range Schemes() {
		found = found || s == a
	}
	if !found {
		t.Error("Schemes misses", a)
	}
}

func TestResolve(t *testing.T) {
	if _, ok := Lookup("fake-b"); !ok {
		Register(fakeTransport{"fake-b"})
	}
	own := fakeTransport{"own"}
	tests := []struct {
		url   string
		extra []Transport
		want  error
		tr    string
	}{
		{"fake-b://x", nil, nil, "fake-b"},
		{"own://x", []Transport{own}, nil, "own"},
		{"nope://x", nil, ErrUnknownScheme, ""},
		{"no-scheme", nil, ErrBadURL, ""},
		{"://x", nil, ErrBadURL, ""},
		{"tcp://[::1", nil, ErrBadURL, ""},
	}
	for _, tt := range tests {
		_, tr, err := Resolve(tt.url, tt.extra)
		if !errors.Is(err, tt.want) {
			t.Errorf("Resolve(%q) = %v, want %v", tt.url, err, tt.want)
			continue
		}
		if err == nil && tr.Scheme() != tt.tr {
			t.Errorf("Resolve(%q) gave %s", tt.url, tr.Scheme())
		}
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"tcp://127.0.0.1:80", true},
		{"tcp://[::1]:80", true},
		{"tcp://:80", true},
		{"tcp://host", false},
		{"tcp://", false},
		{"tcp://h:1/path", false},
		{"tcp://h:1?q=1", false},
		{"tcp://u@h:1", false},
	}
	for _, tt := range tests {
		u, err := ParseURL(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = HostPort(u)
		if (err == nil) != tt.ok {
			t.Errorf("HostPort(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadURL) {
			t.Errorf("HostPort(%q) error %v is not ErrBadURL", tt.url, err)
		}
	}
}

func TestFrames(t *testing.T) {
	var b []byte
	b = AppendFrame(b, []byte("ab"), []byte("c"))
	b = AppendFrame(b)
	b, off := BeginFrame(b)
	b = append(b, "xyz"...)
	EndFrame(b, off)
	if n := CountFrames(b); n != 3 {
		t.Fatalf("CountFrames = %d", n)
	}
	want := []string{"abc", "", "xyz"}
	for _, w := range want {
		p, rest, ok := NextFrame(b)
		if !ok || string(p) != w {
			t.Fatalf("NextFrame = %q %v, want %q", p, ok, w)
		}
		b = rest
	}
	if len(b) != 0 {
		t.Fatal("left over bytes")
	}
	// Truncated frames are not complete.
	full := AppendFrame(nil, []byte("hello"))
	for i := 0; i < len(full); i++ {
		if _, _, ok := NextFrame(full[:i]); ok {
			t.Fatalf("NextFrame accepted %d of %d bytes", i, len(full))
		}
	}
	// A huge announced length is not a frame (and does not overflow).
	huge := bytes.Repeat([]byte{0xff}, 16)
	if _, _, ok := NextFrame(huge); ok {
		t.Fatal("NextFrame accepted a huge length")
	}
}

func TestMismatchError(t *testing.T) {
	err := error(&MismatchError{Want: Proto{ID: 0x31, Name: "rep"}, Got: 0x30})
	if !errors.Is(err, ErrProtocolMismatch) {
		t.Fatal("MismatchError is not ErrProtocolMismatch")
	}
	if err.Error() == "" {
		t.Fatal("empty message")
	}
}

// TestErrClosedIsNetErrClosed: code written for net (a net.Listener's
// Accept loop, a net.Conn reader) recognizes a closed transport.
func TestErrClosedIsNetErrClosed(t *testing.T) {
	for _, err := range []error{ErrClosed, fmt.Errorf("accept: %w", ErrClosed)} {
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrClosed) {
			t.Fatalf("%v: errors.Is net.ErrClosed %v, ErrClosed %v", err, errors.Is(err, net.ErrClosed), errors.Is(err, ErrClosed))
		}
	}
	if errors.Is(ErrBadURL, net.ErrClosed) || errors.Is(net.ErrClosed, ErrClosed) {
		t.Fatal("the match goes one way only, and only for ErrClosed")
	}
	if ErrClosed.Error() != "transport: closed" {
		t.Fatalf("message %q", ErrClosed.Error())
	}
}

func TestConfigDefaults(t *testing.T) {
	var c *Config
	if c.MaxRecv() != DefaultMaxRecvSize || c.Handshake() != DefaultHandshakeTimeout {
		t.Fatal("nil config defaults")
	}
	c = &Config{MaxRecvSize: 10, HandshakeTimeout: 1}
	if c.MaxRecv() != 10 || c.Handshake() != 1 {
		t.Fatal("explicit config values")
	}
}
