package socket

import "github.com/plexusnet/plexus/transport/inproc"

// NewPair returns two sockets connected to each other through memory,
// both made with opts. Their protocol must pair with itself (the raw
// protocol, pair, bus); otherwise they are returned unconnected. The pipe
// is not redialed: once either socket closes, the other has no peer.
func NewPair(opts ...Option) (Socket, Socket) {
	a, b := newSock(opts...), newSock(opts...)
	pa, pb := inproc.NewPair(&a.tcfg, &b.tcfg)
	if _, err := a.addPipe(pa, nil); err != nil {
		pa.Close()
	}
	if _, err := b.addPipe(pb, nil); err != nil {
		pb.Close()
	}
	return a, b
}
