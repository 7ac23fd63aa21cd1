package fastio

// Writer makes non-blocking writes on a TCP or Unix connection: one
// writev system call that takes what the kernel accepts at once and never
// waits for the socket to drain. Create it with NewWriter, which returns
// nil where there is no such write (other platforms, other connections);
// then every write goes the usual way. A Writer is used by one goroutine
// at a time.
type Writer struct {
	w   rawWriter
	one [1][]byte
}

// TryWrite writes what the kernel takes of bufs at once and returns how
// many bytes that was: 0 and no error if the socket is full.
func (w *Writer) TryWrite(bufs [][]byte) (int, error) { return w.w.try(bufs) }

// TryWriteOne is TryWrite of a single buffer.
func (w *Writer) TryWriteOne(b []byte) (int, error) {
	w.one[0] = b
	n, err := w.w.try(w.one[:])
	w.one[0] = nil
	return n, err
}
