package tcp_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/ipc"
	"github.com/plexusnet/plexus/transport/tcp"
	"github.com/plexusnet/plexus/transport/tlstcp"
)

// TestDialErrorIsNilPipe: a failed Dial returns a nil transport.Pipe, not
// a nil pointer in a non-nil interface, on every byte-stream transport.
func TestDialErrorIsNilPipe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nobody listens there any more
	req, _ := testutil.ReqRepConfigs()
	tlsReq := *req
	tlsReq.TLS = &tls.Config{}
	for _, tc := range []struct {
		tr  transport.Transport
		url string
		cfg *transport.Config
	}{
		{tcp.Transport{}, "tcp://" + closed, req},
		{tlstcp.Transport{}, "tls+tcp://" + closed, &tlsReq},
		{ipc.Transport{}, "ipc://" + filepath.Join(t.TempDir(), "none.sock"), req},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tc.tr.Dial(context.Background(), u, tc.cfg)
		if err == nil {
			p.Close()
			t.Fatalf("%s: Dial succeeded", tc.url)
		}
		if p != nil {
			t.Errorf("%s: Dial failed (%v) but returned a non-nil Pipe %#v", tc.url, err, p)
		}
	}
}
