package socket

import (
	"fmt"

	"github.com/plexusnet/plexus/internal/mempipe"
)

// NewPair returns two sockets connected to each other through memory,
// both made with opts, as New makes them (and failing as New fails). Their
// protocol must pair with itself (the raw protocol, pair, bus); otherwise
// NewPair fails with an error matching ErrProtocolMismatch, and returns no
// socket. The pipe is not redialed:
// once either socket closes, the other has no peer.
func NewPair(opts ...Option) (Socket, Socket, error) {
	a, err := newSock(opts...)
	if err != nil {
		return nil, nil, err
	}
	b, err := newSock(opts...)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	pa, pb := mempipe.NewPair(&a.tcfg, &b.tcfg)
	_, err = a.addPipe(pa, nil, nil)
	if err == nil {
		_, err = b.addPipe(pb, nil, nil)
	}
	if err != nil {
		pa.Close()
		pb.Close()
		a.Close()
		b.Close()
		return nil, nil, fmt.Errorf("socket: pair: %w", err)
	}
	return a, b, nil
}
