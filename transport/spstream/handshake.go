package spstream

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// HandshakeLen is the size of the SP connection header.
const HandshakeLen = 8

// AppendHeader appends the SP connection header announcing protocol id.
func AppendHeader(b []byte, id uint16) []byte {
	return append(b, 0x00, 'S', 'P', 0x00, byte(id>>8), byte(id), 0x00, 0x00)
}

// ParseHeader checks an SP connection header and returns the protocol id
// it announces. Anything but exactly the 8-byte header with the magic
// 0x00 'S' 'P' 0x00 and zero reserved bytes is ErrBadHandshake.
func ParseHeader(h []byte) (uint16, error) {
	if len(h) != HandshakeLen {
		return 0, fmt.Errorf("%w: %d bytes, want %d", transport.ErrBadHandshake, len(h), HandshakeLen)
	}
	if h[0] != 0 || h[1] != 'S' || h[2] != 'P' || h[3] != 0 {
		return 0, fmt.Errorf("%w: magic % x", transport.ErrBadHandshake, h[:4])
	}
	if h[6] != 0 || h[7] != 0 {
		return 0, fmt.Errorf("%w: reserved bytes % x are not zero", transport.ErrBadHandshake, h[6:8])
	}
	return binary.BigEndian.Uint16(h[4:6]), nil
}

// CheckPeer verifies that the id a peer announced is the protocol we pair
// with; otherwise it returns a *transport.MismatchError.
func CheckPeer(got uint16, cfg *transport.Config) error {
	if got != cfg.Peer.ID {
		return &transport.MismatchError{Want: cfg.Peer, Got: got}
	}
	return nil
}

// Handshake exchanges SP headers on conn: it announces cfg.Self, reads the
// peer's header and checks it against cfg.Peer. It gives up when ctx ends
// or after cfg's handshake timeout, whichever comes first. The write and
// the read run concurrently, so an unbuffered stream (net.Pipe) works too.
// On return the connection's deadlines are cleared.
func Handshake(ctx context.Context, conn net.Conn, cfg *transport.Config) (uint16, error) {
	deadline := time.Now().Add(cfg.Handshake())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() {
		// Unblock the read and write below at once.
		_ = conn.SetDeadline(time.Unix(1, 0))
	})
	defer stop()

	out := AppendHeader(make([]byte, 0, HandshakeLen), cfg.Self.ID)
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(out)
		werr <- err
	}()
	var in [HandshakeLen]byte
	_, rerr := io.ReadFull(conn, in[:])
	if rerr != nil {
		// Make sure the writer is not left blocked.
		_ = conn.SetDeadline(time.Unix(1, 0))
	}
	err := <-werr
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if rerr != nil {
		return 0, fmt.Errorf("spstream: handshake read: %w", rerr)
	}
	if err != nil {
		return 0, fmt.Errorf("spstream: handshake write: %w", err)
	}
	id, err := ParseHeader(in[:])
	if err != nil {
		return 0, err
	}
	if err := CheckPeer(id, cfg); err != nil {
		return id, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return id, err
	}
	return id, nil
}
