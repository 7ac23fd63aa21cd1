//go:build !noplexussock

package sockpeer

import (
	"fmt"

	"github.com/plexusnet/plexus/socket"
)

// Plexus is plexus socket with its default options.
func Plexus() Peer {
	return Peer{Name: "plexus", New: func() (Instance, error) { return plexusInstance{}, nil }}
}

// plexusOpener makes one plexus socket; subscribe is set for a sub socket only.
type plexusOpener func() (s socket.Socket, subscribe func([]byte) error, err error)

// plexusOpeners lists the socket kinds this build has, one file per protocol pair.
func plexusOpeners() map[Kind]plexusOpener {
	m := map[Kind]plexusOpener{}
	for _, f := range []func() map[Kind]plexusOpener{plexusReqRep, plexusPushPull, plexusPubSub} {
		for k, o := range f() {
			m[k] = o
		}
	}
	return m
}

type plexusInstance struct{}

func (plexusInstance) Close() error { return nil }

// Interrupt does nothing: closing a socket ends its blocked calls.
func (plexusInstance) Interrupt() {}

func (plexusInstance) Open(k Kind) (Socket, error) {
	open, ok := plexusOpeners()[k]
	if !ok {
		return nil, fmt.Errorf("%w: plexus %v (its protocol package is built in with -tags %s)", ErrNotBuilt, k, plexusTags[k])
	}
	s, subscribe, err := open()
	if err != nil {
		return nil, err
	}
	return &goSocket{
		send:      s.Send,
		recv:      s.Recv,
		listen:    s.Listen,
		dial:      s.Dial,
		subscribe: subscribe,
		close:     s.Close,
	}, nil
}

var plexusTags = map[Kind]string{Push: "plexuspushpull", Pull: "plexuspushpull", Pub: "plexuspubsub", Sub: "plexuspubsub"}
