package ipc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	req, rep       = testutil.ReqRep()
	reqCfg, repCfg = testutil.ReqRepConfigs()
)

// TestSocketFile: the listener's address is its socket file, removed by
// Close.
func TestSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sock")
	u, _ := transport.ParseURL("ipc://" + path)
	l, err := Transport{}.Listen(context.Background(), u, repCfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr() != "ipc://"+path {
		t.Fatal(l.Addr())
	}
	l.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left behind: %v", err)
	}
}

func TestStaleFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // leaves the file, with nobody listening
	u, _ := transport.ParseURL("ipc://" + path)
	l, err := Transport{}.Listen(context.Background(), u, repCfg)
	if err != nil {
		t.Fatalf("stale socket file not replaced: %v", err)
	}
	l.Close()
}

func TestPath(t *testing.T) {
	tests := []struct{ url, path string }{
		{"ipc:///tmp/a.sock", "/tmp/a.sock"},
		{"ipc://rel.sock", "rel.sock"},
		{"ipc://dir/rel.sock", "dir/rel.sock"},
	}
	for _, tt := range tests {
		u, _ := transport.ParseURL(tt.url)
		if p, err := Path(u); err != nil || p != tt.path {
			t.Errorf("Path(%s) = %q %v", tt.url, p, err)
		}
	}
	for _, bad := range []string{"ipc://", "ipc:///a?x=1"} {
		u, _ := transport.ParseURL(bad)
		if _, err := Path(u); !errors.Is(err, transport.ErrBadURL) {
			t.Errorf("Path(%s) = %v", bad, err)
		}
	}
}
