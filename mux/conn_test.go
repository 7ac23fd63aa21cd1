package mux

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestConn runs the net.Conn conformance suite of x/net/nettest on streams,
// over TCP and over net.Pipe.
func TestConn(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) {
				c1, c2 := tr.pipe(t)
				cs, err := Client(c1, nil)
				if err != nil {
					return nil, nil, nil, err
				}
				ss, err := Server(c2, nil)
				if err != nil {
					return nil, nil, nil, err
				}
				a, b := streamPair(t, cs, ss)
				stop := func() {
					a.Close()
					b.Close()
					cs.Close()
					ss.Close()
				}
				return a, b, stop, nil
			})
		})
	}
}
