//go:build plexussock

package sockpeer

import (
	"fmt"

	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
)

// Plexus is plexus socket with its default options.
func Plexus() Peer {
	return Peer{Name: "plexus", New: func() (Instance, error) { return plexusInstance{}, nil }}
}

type plexusInstance struct{}

func (plexusInstance) Close() error { return nil }

// Interrupt does nothing: closing a socket ends its blocked calls.
func (plexusInstance) Interrupt() {}

func (plexusInstance) Open(k Kind) (Socket, error) {
	var (
		s   socket.Socket
		err error
		sb  *sub.Socket
	)
	switch k {
	case Push:
		s, err = push.New()
	case Pull:
		s, err = pull.New()
	case Req:
		s, err = req.New()
	case Rep:
		s, err = rep.New()
	case Pub:
		s, err = pub.New()
	case Sub:
		sb, err = sub.New()
		s = sb
	default:
		return nil, fmt.Errorf("plexus: no socket kind %v", k)
	}
	if err != nil {
		return nil, err
	}
	g := &goSocket{
		send:   s.Send,
		recv:   s.Recv,
		listen: func(url string) error { return s.Listen(url) },
		dial:   func(url string) error { return s.Dial(url) },
		close:  s.Close,
	}
	if sb != nil {
		g.subscribe = sb.Subscribe
	}
	return g, nil
}
