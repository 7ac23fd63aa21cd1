package muxpeer

import (
	"context"
	"io"
	"net"

	"github.com/hashicorp/yamux"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

// Yamux is hashicorp/yamux with its default configuration (logging off).
func Yamux() Peer {
	return Peer{
		Name: "yamux",
		Pair: func(ln net.Listener, _ Options) (Session, Session, error) {
			c, s, err := harness.DialPair(ln)
			if err != nil {
				return nil, nil, err
			}
			cfg := yamux.DefaultConfig()
			cfg.LogOutput = io.Discard
			cs, err := yamux.Client(c, cfg)
			if err != nil {
				c.Close()
				s.Close()
				return nil, nil, err
			}
			ss, err := yamux.Server(s, cfg)
			if err != nil {
				cs.Close()
				s.Close()
				return nil, nil, err
			}
			return yamuxSession{cs}, yamuxSession{ss}, nil
		},
	}
}

type yamuxSession struct{ s *yamux.Session }

func (y yamuxSession) OpenStream(context.Context) (Stream, error) {
	st, err := y.s.OpenStream()
	if err != nil {
		return nil, err
	}
	return framed{st}, nil
}

func (y yamuxSession) AcceptStream(context.Context) (Stream, error) {
	st, err := y.s.AcceptStream()
	if err != nil {
		return nil, err
	}
	return framed{st}, nil
}

func (y yamuxSession) Close() error { return y.s.Close() }
