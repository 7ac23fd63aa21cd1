package sockpeer

import (
	"fmt"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/pub"
	"go.nanomsg.org/mangos/v3/protocol/pull"
	"go.nanomsg.org/mangos/v3/protocol/push"
	"go.nanomsg.org/mangos/v3/protocol/rep"
	"go.nanomsg.org/mangos/v3/protocol/req"
	"go.nanomsg.org/mangos/v3/protocol/sub"
	// mangos registers its transports by import.
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"
)

// Mangos is go.nanomsg.org/mangos/v3, pure Go, with its default options.
func Mangos() Peer {
	return Peer{Name: "mangos", New: func() (Instance, error) { return mangosInstance{}, nil }}
}

type mangosInstance struct{}

func (mangosInstance) Close() error { return nil }

// Interrupt does nothing: closing a socket ends its blocked calls.
func (mangosInstance) Interrupt() {}

func (mangosInstance) Open(k Kind) (Socket, error) {
	var (
		s   mangos.Socket
		err error
	)
	switch k {
	case Push:
		s, err = push.NewSocket()
	case Pull:
		s, err = pull.NewSocket()
	case Req:
		s, err = req.NewSocket()
	case Rep:
		s, err = rep.NewSocket()
	case Pub:
		s, err = pub.NewSocket()
	case Sub:
		s, err = sub.NewSocket()
	default:
		return nil, fmt.Errorf("mangos: no socket kind %v", k)
	}
	if err != nil {
		return nil, err
	}
	g := &goSocket{
		send:   s.Send,
		recv:   func([]byte) ([]byte, error) { return s.Recv() },
		listen: s.Listen,
		dial:   s.Dial,
		close:  s.Close,
	}
	if k == Sub {
		g.subscribe = func(topic []byte) error { return s.SetOption(mangos.OptionSubscribe, topic) }
	}
	return g, nil
}
