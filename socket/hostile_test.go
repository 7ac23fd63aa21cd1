package socket

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testutil"
)

// TestIdleConnectionsLockNobodyOut: hundreds of connections that never
// send the SP handshake, open against a tcp:// or ipc:// listener, do not
// delay the Dial of a legitimate peer, which succeeds at once.
func TestIdleConnectionsLockNobodyOut(t *testing.T) {
	const idle = 500
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/idle.sock"} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			// A long handshake timeout: a dial that has to wait for idle
			// connections to time out would take minutes.
			l := New(WithHandshakeTimeout(time.Minute))
			defer l.Close()
			addr, err := l.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			network, host := "tcp", strings.TrimPrefix(addr, "tcp://")
			if strings.HasPrefix(addr, "ipc://") {
				network, host = "unix", strings.TrimPrefix(addr, "ipc://")
			}
			for i := 0; i < idle; i++ {
				c, err := net.Dial(network, host)
				if err != nil {
					t.Fatalf("idle connection %d: %v", i, err)
				}
				defer c.Close()
			}
			d := New(WithHandshakeTimeout(time.Minute))
			defer d.Close()
			start := time.Now()
			if err := d.Dial(addr); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if took > 10*time.Second { // generous: locked out, it would be minutes
				t.Fatalf("with %d idle connections, a legitimate dial took %v", idle, took)
			}
			t.Logf("with %d idle connections, a legitimate dial took %v", idle, took)
			if err := d.Send([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if b, err := l.Recv(); err != nil || string(b) != "hello" {
				t.Fatalf("%q, %v", b, err)
			}
			testutil.Eventually(t, "one pipe on the listener", func() bool { return l.Stats().Pipes == 1 })
		})
	}
}
