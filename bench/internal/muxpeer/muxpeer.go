// Package muxpeer adapts raw TCP and each stream multiplexer (yamux, smux,
// plexus mux) to one small interface, so that every workload of muxbench runs
// the same code for every peer.
package muxpeer

import (
	"context"
	"io"
	"net"
)

// Stream is one bidirectional stream of a peer.
type Stream interface {
	io.ReadWriteCloser
	// SendMsg sends one message. Peers without message framing write the bytes as they are
	// (the workloads use fixed-size records).
	SendMsg(p []byte) error
	// RecvMsg receives one message. Peers without message framing fill buf with io.ReadFull
	// and return it; plexus returns its own next message.
	RecvMsg(buf []byte) ([]byte, error)
}

// Session is one end of a multiplexed connection (or, for raw TCP, a dialer or a listener).
type Session interface {
	OpenStream(ctx context.Context) (Stream, error)
	AcceptStream(ctx context.Context) (Stream, error)
	Close() error
}

// Options tune a pair of sessions for a workload; zero means the peer's default.
type Options struct {
	// MaxStreams is how many streams the workload keeps open at once (the idle workload).
	MaxStreams int
}

// Peer is one implementation under test.
type Peer struct {
	Name string
	// Pair returns a client session and a server session connected over loopback TCP
	// through ln (raw TCP dials ln once per stream).
	Pair func(ln net.Listener, o Options) (client, server Session, err error)
	// Unavailable, when non-empty, says why this peer cannot run in this build.
	Unavailable string
	// NoIdle, when non-empty, says why the idle-memory workload does not apply.
	NoIdle string
}

// All returns every peer in table order: raw TCP first (the baseline), then the others.
func All() []Peer {
	return []Peer{Raw(), Yamux(), Smux(), Plexus()}
}

// framed gives a plain byte stream the message methods of Stream by fixed-size records.
type framed struct{ io.ReadWriteCloser }

func (f framed) SendMsg(p []byte) error {
	_, err := f.Write(p)
	return err
}

// RecvMsg passes the wrapped stream itself to io.ReadFull: converting f to an
// io.Reader would cost the harness an allocation per message.
func (f framed) RecvMsg(buf []byte) ([]byte, error) {
	_, err := io.ReadFull(f.ReadWriteCloser, buf)
	return buf, err
}
