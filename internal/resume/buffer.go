package resume

import "github.com/plexusnet/plexus/internal/bufpool"

// chunkSize is the size of the pooled blocks of a buffer: the largest DATA
// payload, so that a frame sent from the replay buffer is one slice of it.
const chunkSize = maxPayload

// buffer is a byte queue in pooled blocks of chunkSize: memory follows the
// bytes held, and an empty buffer holds no block (unless a block is being
// filled, see reserve). It is not safe for concurrent use; the Conn's lock
// guards it.
type buffer struct {
	chunks  [][]byte // full-length blocks; bytes [head, head+n) of their concatenation are held
	head    int      // offset of the first byte in chunks[0]
	n       int      // bytes held
	filling bool     // a reserve is outstanding: the last block is kept even when empty
}

// tail returns the offset of the end of the held bytes in the last block
// and the index of that block (-1: none).
func (b *buffer) tail() (int, int) {
	if len(b.chunks) == 0 {
		return 0, -1
	}
	end := b.head + b.n - (len(b.chunks)-1)*chunkSize
	return end, len(b.chunks) - 1
}

// grow makes sure the last block has room, and returns that room.
func (b *buffer) grow() []byte {
	end, last := b.tail()
	if last < 0 || end == chunkSize {
		b.chunks = append(b.chunks, bufpool.Get(chunkSize))
		end, last = b.tail()
	}
	return b.chunks[last][end:]
}

// write appends p.
func (b *buffer) write(p []byte) {
	for len(p) > 0 {
		k := copy(b.grow(), p)
		b.n += k
		p = p[k:]
	}
}

// reserve returns room at the end, at most max bytes, for a write without
// the lock; commit(k) then appends the k bytes written there.
func (b *buffer) reserve(max int) []byte {
	room := b.grow()
	b.filling = true
	if len(room) > max {
		room = room[:max]
	}
	return room
}

// commit ends a reserve: k bytes were written into the room.
func (b *buffer) commit(k int) {
	b.n += k
	b.filling = false
	b.release()
}

// read moves bytes to p and drops them.
func (b *buffer) read(p []byte) int {
	total := 0
	for len(p) > 0 && b.n > 0 {
		c := b.chunks[0][b.head:min(chunkSize, b.head+b.n)]
		k := copy(p, c)
		p = p[k:]
		total += k
		b.discard(k)
	}
	return total
}

// discard drops the first k bytes (k <= n), giving emptied blocks back.
func (b *buffer) discard(k int) {
	b.n -= k
	b.head += k
	for b.head >= chunkSize {
		bufpool.Put(b.chunks[0])
		b.chunks[0] = nil
		b.chunks = b.chunks[1:]
		b.head -= chunkSize
	}
	b.release()
}

// release gives the last block back when nothing is held.
func (b *buffer) release() {
	if b.n == 0 && !b.filling {
		for i, c := range b.chunks {
			bufpool.Put(c)
			b.chunks[i] = nil
		}
		b.chunks, b.head = nil, 0
	}
}

// contiguous returns how many of the bytes held from offset off lie in
// one block.
func (b *buffer) contiguous(off int) int {
	return min(b.n-off, chunkSize-(b.head+off)%chunkSize)
}

// slices appends to dst views of the n bytes held from offset off.
func (b *buffer) slices(dst [][]byte, off, n int) [][]byte {
	off += b.head
	for n > 0 {
		c := b.chunks[off/chunkSize][off%chunkSize:]
		if len(c) > n {
			c = c[:n]
		}
		dst = append(dst, c)
		off += len(c)
		n -= len(c)
	}
	return dst
}

// drop forgets every block without giving them back to the pool (another
// goroutine may still read them); the garbage collector takes them.
func (b *buffer) drop() {
	b.chunks, b.head, b.n, b.filling = nil, 0, 0, false
}

// held returns the memory held in blocks.
func (b *buffer) held() int { return len(b.chunks) * chunkSize }
