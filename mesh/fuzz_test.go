package mesh

import (
	"context"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/wire"
	"github.com/plexusnet/plexus/mux"
)

// FuzzLinkHandshake drives a node's link handshake from the dialing side
// with arbitrary control-stream bytes: the node answers (or not) and its
// Attach returns with an error within the handshake timeout; nothing
// panics, hangs or leaks.
func FuzzLinkHandshake(f *testing.F) {
	good := wire.AppendCtrl(nil, wire.MsgHello, wire.AppendHello(nil, wire.Hello{Version: Version, Flags: wire.HelloRelay, ID: 42, Name: DefaultName}))
	f.Add(good)
	f.Add(append(append([]byte{}, good...), wire.AppendCtrl(nil, wire.MsgReady, nil)...))
	f.Add(append(append([]byte{}, good...), wire.AppendCtrl(nil, wire.MsgRefuse, wire.AppendRefuse(nil, uint8(codeLimitBase), "x"))...))
	f.Add(wire.AppendCtrl(nil, wire.MsgRecord, make([]byte, 100)))
	f.Add([]byte{wire.MsgHello, 0xff, 0xff, 0xff, 0xff})
	n, err := New(WithInsecure(), WithLimits(Limits{HandshakeTimeout: 2 * time.Second}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		x, y := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- n.Attach(x) }()
		wrote := make(chan struct{})
		go func() { y.Write(wire.AppendAttach(nil, math.MaxUint64)); close(wrote) }() // we dial
		var pre [wire.AttachLen]byte
		if _, err := io.ReadFull(y, pre[:]); err != nil {
			t.Fatal(err)
		}
		<-wrote // before mux writes its preface
		sess, _ := mux.Client(y, nil)
		defer sess.Close()
		st, err := sess.OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		st.Write(b)
		st.CloseWrite()
		st.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, st)
		sess.Close()
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("Attach did not return")
		}
	})
}
