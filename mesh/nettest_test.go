package mesh

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestConnConformance runs the net.Conn conformance suite of
// x/net/nettest on mesh connections: to a neighbour (a class stream of
// the link's session), across a relay (over a circuit), and to the node
// itself; and across a relay on a secured mesh (a circuit inside
// end-to-end TLS). The first dial to the port waits for its verdict, the later
// ones do not (early dials): the suite runs on both kinds.
func TestConnConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		k      int  // nodes in the chain; the first dials the last
		secure bool // WithTLS: a circuit has end-to-end TLS inside
	}{
		{"self", 1, false},
		{"neighbour", 2, false},
		{"circuit", 3, false},
		{"secure-circuit", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ns []*Node
			if tc.secure {
				ns = secureNodes(t, newCA(t), tc.k)
			} else {
				ns = nodes(t, tc.k)
			}
			if tc.k > 1 {
				chain(t, ns)
			}
			src, dst := ns[0], ns[tc.k-1]
			ln, err := dst.Listen("", ":7")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			addr := FormatID(dst.ID()) + ":7"
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				if c1, err = src.DialContext(ctxT(t), "", addr); err != nil {
					return nil, nil, nil, err
				}
				if c2, err = ln.Accept(); err != nil {
					c1.Close()
					return nil, nil, nil, err
				}
				return c1, c2, func() {
					c1.Close()
					c2.Close()
				}, nil
			})
		})
	}
}
