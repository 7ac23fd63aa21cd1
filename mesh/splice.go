package mesh

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/plexusnet/plexus/mux"
)

// splice forwards a relayed circuit: from now on the bytes arriving on a
// are sent on b and the other way round, a FIN or RESET on one is passed
// to the other, and done (which may be nil) is called once when both
// directions have ended, or either stream was reset, or a session died.
// After splice the caller must not Read, Write or Close a or b (Reset is
// allowed).
//
// This is the contract of mux.Splice, which will forward inside the two
// sessions' own reader and writer goroutines (no goroutine per circuit,
// flow control hop by hop). Until it lands this stand-in copies with two
// goroutines, which gives the same semantics and backpressure (a copier
// blocks in Write while the far end does not read) at the cost of two
// goroutines and two buffers per circuit.
func splice(a, b *mux.Stream, done func(error)) error {
	var (
		left  atomic.Int32
		once  sync.Once
		first error
	)
	left.Store(2)
	end := func(err error) {
		once.Do(func() { first = err })
		if left.Add(-1) == 0 {
			a.Close()
			b.Close()
			if done != nil {
				done(first)
			}
		}
	}
	go func() { end(pipe(b, a)) }()
	go func() { end(pipe(a, b)) }()
	return nil
}

// pipe copies src to dst until src ends: at its end (FIN) dst is
// half-closed; when either is reset or fails, both are reset with the same
// code.
func pipe(dst, src *mux.Stream) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Reset(resetCode(werr))
				return werr
			}
		}
		if err == io.EOF {
			dst.CloseWrite()
			return nil
		}
		if err != nil {
			dst.Reset(resetCode(err))
			return err
		}
	}
}

// resetCode passes a reset's code on, and turns other failures into
// CodeCancel.
func resetCode(err error) mux.ErrorCode {
	var se *mux.StreamError
	if errors.As(err, &se) {
		return se.Code
	}
	return mux.CodeCancel
}
