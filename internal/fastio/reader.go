package fastio

// Reader makes scatter reads on a TCP or Unix connection: one readv system
// call that fills several buffers in order, waiting (and honouring the
// connection's read deadline) while nothing is there to read. Create it
// with NewReader, which returns nil where there is no such read (other
// platforms, other connections); then callers read the usual way. A
// Reader is used by one goroutine at a time.
type Reader struct {
	r   rawReader
	two [2][]byte
}

// ReadTwo reads into a and then b, as one read of a followed by b would,
// and returns how many bytes it read in all: at least one, or an error
// (io.EOF when the peer has closed the connection).
func (r *Reader) ReadTwo(a, b []byte) (int, error) {
	r.two[0], r.two[1] = a, b
	n, err := r.r.read(r.two[:])
	r.two[0], r.two[1] = nil, nil
	return n, err
}
