package socket

import (
	"testing"

	"github.com/plexusnet/plexus/internal/testutil"
	_ "github.com/plexusnet/plexus/transport/ws"
)

// connected returns a listening socket and a socket dialed to it.
func connected(t *testing.T, url string, lopts, dopts []Option) (l, d Socket) {
	t.Helper()
	l, d = New(lopts...), New(dopts...)
	t.Cleanup(func() { d.Close(); l.Close() })
	addr, err := l.ListenAddr(url)
	if err != nil {
		t.Fatalf("listen %s: %v", url, err)
	}
	if err := d.Dial(addr); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	testutil.Eventually(t, "both ends connected", func() bool { return l.Stats().Pipes == 1 && d.Stats().Pipes == 1 })
	return l, d
}

// transportURLs are the listen URLs of every built-in transport (and ws).
func transportURLs(t *testing.T) []string {
	return []string{
		"inproc://" + t.Name(),
		"ipc://" + t.TempDir() + "/s.sock",
		"tcp://127.0.0.1:0",
		"tls+tcp://127.0.0.1:0",
		"ws://127.0.0.1:0/plexus",
	}
}
