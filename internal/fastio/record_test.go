package fastio

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// recorder is a connection that keeps what is written to it, one entry a
// write.
type recorder struct {
	net.Conn
	writes [][]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestRecordConn: records go straight to the connection while nobody
// holds it; while held they are gathered, for the holder to take and to
// give back, and Release writes, in one write, what came after the last
// Take.
func TestRecordConn(t *testing.T) {
	c := &recorder{}
	r := NewRecordConn(c, nil)
	if r.Raw() != nil {
		t.Fatal("Raw returned a writer for a connection that is neither TCP nor Unix")
	}
	r.Write([]byte("hello"))
	if len(c.writes) != 1 || string(c.writes[0]) != "hello" {
		t.Fatalf("not held: writes %q, want one of %q", c.writes, "hello")
	}

	r.Hold()
	r.Write([]byte("ab"))
	r.Write([]byte("cd"))
	if len(c.writes) != 1 {
		t.Fatalf("held: %d writes reached the connection", len(c.writes)-1)
	}
	got := r.Take()
	if got == nil || string(*got) != "abcd" {
		t.Fatalf("Take returned %v, want %q", got, "abcd")
	}
	r.Write([]byte("ef")) // another goroutine's record, after the Take
	r.Put(got)
	if err := r.Release(); err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 2 || string(c.writes[1]) != "ef" {
		t.Fatalf("Release wrote %q, want %q", c.writes[1:], "ef")
	}
	r.Write([]byte("gh"))
	if len(c.writes) != 3 || string(c.writes[2]) != "gh" {
		t.Fatalf("released: writes %q, want %q last", c.writes, "gh")
	}

	// Buffers go back to the pool; a connection that is not written keeps none.
	r.Hold()
	r.Write([]byte("ij"))
	b := r.Take()
	r.Put(b)
	r.Write([]byte("kl"))
	if b2 := r.Take(); b2 == nil || string(*b2) != "kl" {
		t.Fatalf("Take after Put returned %v, want %q", b2, "kl")
	}
	if b3 := r.Take(); b3 != nil {
		t.Fatalf("Take with nothing gathered returned %q, want nil", *b3)
	}
	r.Release()
	if r.buf != nil {
		t.Fatal("released, it keeps a buffer")
	}
}

// TestRecordConnRaw: over a TCP connection, Raw writes to its socket.
func TestRecordConnRaw(t *testing.T) {
	a, b := testutil.TCPPair(t)
	r := NewRecordConn(a, a)
	if r.Raw() == nil {
		if NewWriter(a) == nil {
			t.Skip("no non-blocking writes on this platform")
		}
		t.Fatal("Raw returned nil for a TCP connection")
	}
	if n, err := r.Raw().TryWriteOne([]byte("xyz")); n != 3 || err != nil {
		t.Fatalf("TryWriteOne: %d, %v", n, err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, []byte("xyz")) {
		t.Fatalf("read %q, %v", got, err)
	}
}
