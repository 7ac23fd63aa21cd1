package mux

import (
	"sync/atomic"

	"github.com/plexusnet/plexus/internal/bufpool"
)

// Small payloads on a stream read with Read or RecvInto (Stream.recycle) are
// not each given a pool buffer: the frame reader copies them one after the
// other into a slab, a larger buffer of its own, and a chunk is a slice of
// it. A slab goes back to the pool once the reader has moved on to the next
// one and every chunk cut from it has been read, dropped or forwarded. This
// replaces a pool Get and Put per message, a quarter of the receive path of
// a stream of small messages, with one atomic decrement.
//
// A chunk pins its whole slab: a peer that leaves one small message unread
// on each of many streams could otherwise make a session hold a slab per
// message. So a session has at most maxSlabs slabs that still hold unread
// chunks, and beyond that small payloads get pool buffers as before.
const (
	slabSize       = 16 << 10 // bytes of a slab
	slabMaxPayload = 512      // largest payload cut from a slab
	maxSlabs       = 64       // slabs a session holds at once: 1 MiB
)

// slabBias is what refs starts at while the frame reader cuts chunks from
// a slab: it counts them in frameReader.cut and takes the bias off, net of
// them, when it moves on (retire), so that cutting costs no atomic.
const slabBias = 1 << 40

// slab is a buffer small payloads are cut from.
type slab struct {
	buf  []byte
	refs atomic.Int64  // chunks not yet released, plus slabBias while the reader cuts from it
	live *atomic.Int32 // the session's count of slabs it holds (readSide.slabs)
}

// release gives back one chunk cut from sl; the last one gives back the slab.
func (sl *slab) release() { sl.unref(1) }

func (sl *slab) unref(n int64) {
	if sl.refs.Add(-n) == 0 {
		bufpool.Put(sl.buf)
		sl.live.Add(-1)
	}
}

// slabChunk cuts a chunk of n bytes (0 < n <= slabMaxPayload) from the
// current slab, starting another when it is full. It returns false if the
// session already holds maxSlabs slabs.
func (fr *frameReader) slabChunk(n int) (chunk, bool) {
	if fr.slab == nil || fr.slabOff+n > slabSize {
		fr.retireSlab()
		if fr.slabs.Load() >= maxSlabs {
			return chunk{}, false
		}
		fr.slabs.Add(1)
		fr.slab = &slab{buf: bufpool.Get(slabSize), live: fr.slabs}
		fr.slab.refs.Store(slabBias)
	}
	off := fr.slabOff
	fr.slabOff += n
	fr.cut++
	return chunk{b: fr.slab.buf[off : off+n : off+n], sl: fr.slab}, true
}

// retireSlab stops cutting from the current slab: it goes back once the
// chunks cut from it are released.
func (fr *frameReader) retireSlab() {
	if sl := fr.slab; sl != nil {
		fr.slab, fr.slabOff = nil, 0
		sl.unref(slabBias - fr.cut)
		fr.cut = 0
	}
}

// release gives back the buffer of a chunk that was read, dropped or
// forwarded: to the pool, or to its slab. The chunk's bytes must not be
// used afterwards.
func (c *chunk) release() {
	switch {
	case c.pooled:
		putPayload(c.b)
	case c.sl != nil:
		c.sl.release()
	}
}
