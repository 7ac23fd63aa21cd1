//go:build !noplexussock

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
	// The schemes sockbench uses (tcp://, inproc://); not transport/all,
	// which would link the websocket library.
	_ "github.com/plexusnet/plexus/transport/inproc"
	_ "github.com/plexusnet/plexus/transport/tcp"
)

// Plexus is plexus socket with its default options. Its loops receive with
// RecvInto into one buffer they hand back, as the C loops of libzmq and NNG
// receive into one buffer (Recv would allocate each message).
func Plexus() Peer {
	return Peer{Name: "plexus", New: func() (Instance, error) { return plexusInstance{}, nil }}
}

type plexusInstance struct{}

func (plexusInstance) Close() error { return nil }

// Interrupt does nothing: closing a socket ends its blocked calls.
func (plexusInstance) Interrupt() {}

func (plexusInstance) Open(k Kind) (Socket, error) {
	var (
		s         socket.Socket
		subscribe func([]byte) error
		err       error
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
		if s, err = sub.New(); err == nil {
			sb := s
			subscribe = func(topic []byte) error { return sub.Subscribe(sb, topic) }
		}
	default:
		return nil, fmt.Errorf("%w: plexus %v", ErrNotBuilt, k)
	}
	if err != nil {
		return nil, err
	}
	return &goSocket{
		send:      s.Send,
		recv:      func(buf []byte) ([]byte, error) { return s.RecvInto(nil, buf) },
		listen:    s.Listen,
		dial:      s.Dial,
		subscribe: subscribe,
		close:     s.Close,
	}, nil
}
