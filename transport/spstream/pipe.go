package spstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/internal/fastio"
	"github.com/plexusnet/plexus/transport"
)

// Framing selects how messages are delimited on the stream.
type Framing uint8

const (
	// FramingTCP: 64-bit big-endian length, then the payload (tcp, tls+tcp).
	FramingTCP Framing = iota
	// FramingIPC: a 0x01 message type byte, the 64-bit length, the payload.
	FramingIPC
)

// ipcMsgType is the only message type of SP over IPC.
const ipcMsgType = 0x01

// The read buffer: many small messages are parsed out of one read system
// call, which may bring in up to readBufSize bytes. It starts at
// minReadBufSize, so that an idle pipe costs little, and doubles up to
// readBufSize when a read fills it or a message needs the room.
const (
	minReadBufSize = 4 << 10
	readBufSize    = 64 << 10
)

// maxKeptWriteBuf bounds the conversion buffer kept between IPC writes.
const maxKeptWriteBuf = 1 << 20

func (f Framing) headerLen() int {
	if f == FramingIPC {
		return 1 + transport.FrameHeaderLen
	}
	return transport.FrameHeaderLen
}

// Pipe is a transport.Pipe over a byte stream.
type Pipe struct {
	conn    net.Conn
	framing Framing
	peer    transport.Proto
	max     int

	// read side, owned by the one goroutine calling Recv.
	rbuf    []byte
	r, w    int
	rmax    int    // the size rbuf may grow to
	filled  bool   // the last read filled rbuf: grow it
	large   []byte // a message larger than rmax, being read: what came so far
	largeSz int    // its announced size; large grows towards it as bytes arrive

	// The interrupt: Interrupt sets intr and a read deadline in the past,
	// and Recv clears both, each under imu, so that the deadline is in the
	// past exactly while intr is set: a Recv never meets a stale deadline
	// that would fail a healthy pipe. intr is also read without imu, as the
	// cheap check of the common case (no interrupt pending).
	imu  sync.Mutex
	intr atomic.Bool

	// write side, owned by the one goroutine calling Send or TrySend.
	wbuf    []byte
	iov     net.Buffers
	try     *fastio.Writer // nil: no TrySend fast path (TLS, net.Pipe, not Linux, ...)
	pending []byte         // what TrySend could not write, on the wire format

	interruptible bool // a TCP or Unix connection, whose read deadline is harmless to cut

	closeOnce sync.Once
	closeErr  error
}

// Open runs the SP handshake on conn and returns the pipe. On error conn
// is closed.
func Open(ctx context.Context, conn net.Conn, cfg *transport.Config, f Framing) (*Pipe, error) {
	id, err := Handshake(ctx, conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return NewPipe(conn, cfg, f, transport.Proto{ID: id, Name: cfg.Peer.Name}), nil
}

// NewPipe wraps a connection whose handshake is already done.
func NewPipe(conn net.Conn, cfg *transport.Config, f Framing, peer transport.Proto) *Pipe {
	p := &Pipe{
		conn:    conn,
		framing: f,
		peer:    peer,
		max:     cfg.MaxRecv(),
		rbuf:    make([]byte, minReadBufSize),
		rmax:    readBufSize,
	}
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		p.interruptible = true
		p.try = fastio.NewWriter(conn)
	}
	return p
}

// Conn returns the underlying connection.
func (p *Pipe) Conn() net.Conn { return p.conn }

// Peer implements transport.Pipe.
func (p *Pipe) Peer() transport.Proto { return p.peer }

// LocalAddr implements transport.Pipe.
func (p *Pipe) LocalAddr() string { return addrString(p.conn.LocalAddr()) }

// RemoteAddr implements transport.Pipe.
func (p *Pipe) RemoteAddr() string { return addrString(p.conn.RemoteAddr()) }

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Close implements transport.Pipe.
func (p *Pipe) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.conn.Close() })
	return p.closeErr
}

// CloseWrite half-closes the stream when the connection supports it.
func (p *Pipe) CloseWrite() error {
	if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// TrySend implements transport.TrySender: one non-blocking write system
// call on TCP and Unix connections (on Linux; see internal/fastio). Other
// connections keep everything for the next Send.
func (p *Pipe) TrySend(frames []byte) (bool, error) {
	b := frames
	if p.framing == FramingIPC {
		var err error
		if b, err = p.toIPC(frames); err != nil {
			return false, err
		}
	}
	if p.try == nil || len(p.pending) > 0 {
		p.pending = append(p.pending, b...)
		return false, nil
	}
	n, err := p.try.TryWriteOne(b)
	if err != nil {
		return false, fmt.Errorf("spstream: write: %w", err)
	}
	if n == len(b) {
		return true, nil
	}
	p.pending = append(p.pending, b[n:]...)
	return false, nil
}

// toIPC converts a batch of frames to the IPC wire format in p.wbuf.
func (p *Pipe) toIPC(frames ...[]byte) ([]byte, error) {
	b := p.wbuf[:0]
	for _, f := range frames {
		for len(f) > 0 {
			payload, rest, ok := transport.NextFrame(f)
			if !ok {
				return nil, fmt.Errorf("%w: malformed frame batch", transport.ErrProtocol)
			}
			b = append(b, ipcMsgType)
			b = binary.BigEndian.AppendUint64(b, uint64(len(payload)))
			b = append(b, payload...)
			f = rest
		}
	}
	if cap(b) <= maxKeptWriteBuf {
		p.wbuf = b[:0]
	} else {
		p.wbuf = nil
	}
	return b, nil
}

// Send implements transport.Pipe: the frames are written in as few system
// calls as the framing allows (one for FramingTCP).
func (p *Pipe) Send(frames ...[]byte) error {
	if len(p.pending) > 0 {
		_, err := p.conn.Write(p.pending)
		if cap(p.pending) > maxKeptWriteBuf {
			p.pending = nil
		} else {
			p.pending = p.pending[:0]
		}
		if err != nil {
			return fmt.Errorf("spstream: write: %w", err)
		}
	}
	var err error
	if p.framing == FramingTCP {
		switch len(frames) {
		case 0:
			return nil
		case 1:
			_, err = p.conn.Write(frames[0])
		default:
			p.iov = append(p.iov[:0], frames...)
			iov := p.iov
			_, err = iov.WriteTo(p.conn)
			clear(p.iov[:cap(p.iov)])
		}
	} else {
		b, cerr := p.toIPC(frames...)
		if cerr != nil {
			return cerr
		}
		if len(b) > 0 {
			_, err = p.conn.Write(b)
		}
	}
	if err != nil {
		return fmt.Errorf("spstream: write: %w", err)
	}
	return nil
}

// header parses the frame header at p.rbuf[p.r:p.w]. ok is false if it is
// not complete yet.
func (p *Pipe) header() (n uint64, ok bool, err error) {
	hl := p.framing.headerLen()
	if p.w-p.r < hl {
		return 0, false, nil
	}
	h := p.rbuf[p.r : p.r+hl]
	if p.framing == FramingIPC {
		if h[0] != ipcMsgType {
			return 0, false, fmt.Errorf("%w: IPC message type 0x%02x, want 0x01", transport.ErrProtocol, h[0])
		}
		h = h[1:]
	}
	n = binary.BigEndian.Uint64(h)
	if n > uint64(p.max) {
		return 0, false, fmt.Errorf("%w: %d bytes announced, limit %d", transport.ErrMsgTooLarge, n, p.max)
	}
	return n, true, nil
}

// Buffered implements transport.Pipe.
func (p *Pipe) Buffered() bool {
	n, ok, err := p.header()
	if err != nil {
		return true // Recv reports it at once.
	}
	return ok && uint64(p.w-p.r-p.framing.headerLen()) >= n
}

// Interruptible implements transport.Interrupter: interrupts work on TCP
// and Unix connections, whose read deadlines are harmless to cut.
func (p *Pipe) Interruptible() bool { return p.interruptible }

// Interrupt implements transport.Interrupter with a read deadline in the
// past.
func (p *Pipe) Interrupt() {
	p.imu.Lock()
	p.intr.Store(true)
	_ = p.conn.SetReadDeadline(time.Unix(1, 0))
	p.imu.Unlock()
}

// interrupted reports (and clears) a pending interrupt, and with it the
// read deadline.
func (p *Pipe) interrupted() bool {
	if !p.intr.Load() {
		return false
	}
	p.imu.Lock()
	defer p.imu.Unlock()
	if !p.intr.Load() {
		return false
	}
	p.intr.Store(false)
	_ = p.conn.SetReadDeadline(time.Time{})
	return true
}

// readErr turns a read error into what Recv returns.
func (p *Pipe) readErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && p.interrupted() {
		return transport.ErrInterrupted
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("spstream: read: %w", err)
}

// Recv implements transport.Pipe.
func (p *Pipe) Recv() ([]byte, error) {
	if p.interrupted() {
		return nil, transport.ErrInterrupted
	}
	if p.large != nil {
		return p.recvLarge()
	}
	hl := p.framing.headerLen()
	for {
		n, ok, err := p.header()
		if err != nil {
			return nil, err
		}
		if ok {
			total := hl + int(n)
			if p.w-p.r >= total {
				msg := p.rbuf[p.r+hl : p.r+total : p.r+total]
				p.r += total
				if p.r == p.w {
					p.r, p.w = 0, 0
				}
				return msg, nil
			}
			if total > p.rmax {
				// Too large for the read buffer: read it into its own,
				// which grows as the bytes arrive, so that a peer that
				// announces a large message and sends little of it costs
				// little (the size was checked against the limit).
				have := p.w - p.r - hl
				p.large = make([]byte, have, min(int(n), max(2*have, len(p.rbuf))))
				copy(p.large, p.rbuf[p.r+hl:p.w])
				p.largeSz = int(n)
				p.r, p.w = 0, 0
				return p.recvLarge()
			}
		}
		// Need more bytes: make room at the end, then read.
		if p.r > 0 && (len(p.rbuf)-p.w < hl || (ok && len(p.rbuf)-p.r < hl+int(n))) {
			p.w = copy(p.rbuf, p.rbuf[p.r:p.w])
			p.r = 0
		}
		if (p.w == len(p.rbuf) || p.filled) && len(p.rbuf) < p.rmax {
			b := make([]byte, min(2*len(p.rbuf), p.rmax))
			p.w = copy(b, p.rbuf[p.r:p.w])
			p.r = 0
			p.rbuf = b
		}
		m, err := p.conn.Read(p.rbuf[p.w:])
		p.filled = p.w+m == len(p.rbuf)
		p.w += m
		if err != nil {
			if m > 0 {
				continue // parse what arrived first; the error repeats
			}
			err = p.readErr(err)
			if err == io.EOF && p.w > p.r {
				return nil, fmt.Errorf("%w: stream ended inside a message", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
	}
}

// recvLarge goes on reading p.large, doubling its room each time the
// bytes fill it, up to the announced size; an interrupt leaves it to the
// next Recv.
func (p *Pipe) recvLarge() ([]byte, error) {
	for len(p.large) < p.largeSz {
		if len(p.large) == cap(p.large) {
			b := make([]byte, len(p.large), min(p.largeSz, 2*cap(p.large)))
			copy(b, p.large)
			p.large = b
		}
		m, err := p.conn.Read(p.large[len(p.large):cap(p.large)])
		p.large = p.large[:len(p.large)+m]
		if err != nil && len(p.large) < p.largeSz {
			err = p.readErr(err)
			if err == io.EOF {
				err = fmt.Errorf("%w: stream ended inside a message", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
	}
	msg := p.large
	p.large, p.largeSz = nil, 0
	return msg, nil
}
