package muxpeer

import (
	"context"
	"net"

	"github.com/xtaci/smux"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

// Smux is xtaci/smux with its default configuration (protocol version 1).
func Smux() Peer {
	return Peer{
		Name: "smux",
		Pair: func(ln net.Listener, _ Options) (Session, Session, error) {
			c, s, err := harness.DialPair(ln)
			if err != nil {
				return nil, nil, err
			}
			cfg := smux.DefaultConfig()
			cs, err := smux.Client(c, cfg)
			if err != nil {
				c.Close()
				s.Close()
				return nil, nil, err
			}
			ss, err := smux.Server(s, cfg)
			if err != nil {
				cs.Close()
				s.Close()
				return nil, nil, err
			}
			return smuxSession{cs}, smuxSession{ss}, nil
		},
	}
}

type smuxSession struct{ s *smux.Session }

func (m smuxSession) OpenStream(context.Context) (Stream, error) {
	st, err := m.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return framed{st}, nil
}

func (m smuxSession) AcceptStream(context.Context) (Stream, error) {
	st, err := m.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return framed{st}, nil
}

func (m smuxSession) Close() error { return m.s.Close() }
