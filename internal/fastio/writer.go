package fastio

// Writer makes non-blocking writes on a TCP or Unix connection: one
// writev system call that takes what the kernel accepts at once and never
// waits for the socket to drain. Create it with NewWriter, which returns
// nil where there is no such write (other platforms, other connections);
// then every write goes the usual way. A Writer is used by one goroutine
// at a time.
type Writer struct {
	w   rawWriter
	fn  func([][]byte) (int, error) // the write of a connection that is not a socket (FuncWriter)
	one [1][]byte
}

// NewWriter returns a Writer for conn, a TCP or Unix connection; nil for
// anything else.
func NewWriter(conn any) *Writer { return newSocketWriter(conn) }

// FuncWriter returns a Writer whose TryWrite is fn: the non-blocking write
// of a connection that is not a socket (a mux stream, whose write need not
// wait for the network).
func FuncWriter(fn func(bufs [][]byte) (int, error)) *Writer { return &Writer{fn: fn} }

// Nested reports whether w writes to a connection that is not a socket
// (FuncWriter).
func (w *Writer) Nested() bool { return w.fn != nil }

// TryWrite writes what the kernel (or, for a connection that is not a
// socket, the connection) takes of bufs at once and returns how many bytes
// that was: 0 and no error if the socket is full.
func (w *Writer) TryWrite(bufs [][]byte) (int, error) {
	if w.fn != nil {
		return w.fn(bufs)
	}
	return w.w.try(bufs)
}

// TryWriteOne is TryWrite of a single buffer.
func (w *Writer) TryWriteOne(b []byte) (int, error) {
	w.one[0] = b
	n, err := w.TryWrite(w.one[:])
	w.one[0] = nil
	return n, err
}
