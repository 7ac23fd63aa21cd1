//go:build !noplexusmux

package muxpeer

import (
	"context"
	"net"

	"github.com/plexusnet/plexus/mux"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

// Plexus is plexus mux with its default configuration; the idle workload
// raises MaxStreams and AcceptBacklog to the number of streams it holds open.
func Plexus() Peer {
	return Peer{
		Name: "plexus",
		Pair: func(ln net.Listener, o Options) (Session, Session, error) {
			c, s, err := harness.DialPair(ln)
			if err != nil {
				return nil, nil, err
			}
			var cfg *mux.Config
			if o.MaxStreams > 0 {
				cfg = &mux.Config{MaxStreams: 2*o.MaxStreams + 64, AcceptBacklog: o.MaxStreams + 64}
			}
			type res struct {
				s   *mux.Session
				err error
			}
			ch := make(chan res, 1)
			go func() {
				ss, err := mux.Server(s, cfg)
				ch <- res{ss, err}
			}()
			cs, err := mux.Client(c, cfg)
			r := <-ch
			if err != nil || r.err != nil {
				if cs != nil {
					cs.Close()
				}
				if r.s != nil {
					r.s.Close()
				}
				c.Close()
				s.Close()
				if err == nil {
					err = r.err
				}
				return nil, nil, err
			}
			return plexusSession{cs}, plexusSession{r.s}, nil
		},
	}
}

type plexusSession struct{ s *mux.Session }

func (p plexusSession) OpenStream(ctx context.Context) (Stream, error) {
	st, err := p.s.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return plexusStream{st}, nil
}

func (p plexusSession) AcceptStream(ctx context.Context) (Stream, error) {
	st, err := p.s.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	return plexusStream{st}, nil
}

func (p plexusSession) Close() error { return p.s.Close() }

type plexusStream struct{ *mux.Stream }

func (p plexusStream) SendMsg(b []byte) error { return p.Send(b) }

// RecvMsg receives into buf with RecvInto, as the other peers read into it
// with io.ReadFull; Recv would allocate each message.
func (p plexusStream) RecvMsg(buf []byte) ([]byte, error) { return p.RecvInto(buf) }
