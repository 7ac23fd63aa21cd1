package fastio

import (
	"net"
	"sync"
)

// RecordConn is the connection under a TLS connection (crypto/tls), for a
// writer that seals several frames at once: while the writer holds it
// (Hold), the records TLS writes are gathered rather than written one
// system call each, and the writer takes them (Take) and writes them
// itself, with one system call, or with a non-blocking one (Raw) from a
// goroutine that must not wait for a congested connection. A tls.Conn
// writes a record of at most 16 KiB with each write to the connection
// under it, so a 64 KiB frame would otherwise cost four system calls and a
// small frame its own.
//
// Records written while nobody holds it (the handshake, alerts, a key
// update answered by a reader) go straight to the connection, in order
// with the gathered ones: those of other goroutines that come while it is
// held are gathered too, and Release writes what the holder did not take.
// Reads and every other method go to the connection.
type RecordConn struct {
	net.Conn
	raw  *Writer
	sock any // what NewRecordConn was given, for Sock
	mu   sync.Mutex
	held bool
	buf  *[]byte // gathered records, in a buffer of recordPool; nil: none
}

// recordPool holds the buffers records are gathered in, so that a
// connection that does not write keeps none.
var recordPool = sync.Pool{New: func() any {
	b := make([]byte, 0, recordBufSize)
	return &b
}}

const (
	recordBufSize = 288 << 10 // a batch of frames sealed, and room to spare
	maxKept       = 1 << 20   // the largest buffer put back in recordPool
)

// NewRecordConn returns a RecordConn over c. sock is the TCP or Unix
// connection c writes to (c itself, or one it wraps), for Raw; nil or
// any other connection: no non-blocking writes.
func NewRecordConn(c net.Conn, sock any) *RecordConn {
	r := &RecordConn{Conn: c, sock: sock}
	if sock != nil {
		r.raw = NewWriter(sock)
	}
	return r
}

// Write is the TLS connection's write of a record: gathered while held,
// else written to the connection.
func (r *RecordConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held {
		if r.buf == nil {
			r.buf = recordPool.Get().(*[]byte)
		}
		*r.buf = append(*r.buf, p...)
		return len(p), nil
	}
	return r.Conn.Write(p)
}

// Raw returns the non-blocking writer of the connection's socket, or nil
// if there is none.
func (r *RecordConn) Raw() *Writer { return r.raw }

// Sock returns the connection NewRecordConn was given as the one c writes
// to: a session whose TLS runs over a connection that is not a socket (a
// mux stream) makes its own non-blocking write from it.
func (r *RecordConn) Sock() any { return r.sock }

// Hold makes the records written from now on gathered, until Release.
func (r *RecordConn) Hold() {
	r.mu.Lock()
	r.held = true
	r.mu.Unlock()
}

// Take returns the records gathered so far (nil if none), for the holder
// to write before it releases; the buffer is the caller's until it gives
// it back with Put.
func (r *RecordConn) Take() *[]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buf
	r.buf = nil
	return b
}

// Put gives back a buffer that Take returned (or nil), once written.
func (r *RecordConn) Put(b *[]byte) {
	if b == nil || cap(*b) > maxKept {
		return
	}
	*b = (*b)[:0]
	recordPool.Put(b)
}

// Release ends Hold: records gathered and not taken (another goroutine's,
// written meanwhile) are written first, blocking.
func (r *RecordConn) Release() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held = false
	b := r.buf
	if b == nil {
		return nil
	}
	r.buf = nil
	_, err := r.Conn.Write(*b)
	r.Put(b)
	return err
}
