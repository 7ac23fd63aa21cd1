package tlstcp

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var req, rep = testutil.ReqRep()

func TestTLS(t *testing.T) {
	ctx := context.Background()
	srvTLS, cliTLS := testutil.TLSConfigs(t)
	u, _ := transport.ParseURL("tls+tcp://127.0.0.1:0")
	l, err := Transport{}.Listen(ctx, u, &transport.Config{Self: rep, Peer: req, TLS: srvTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ = transport.ParseURL(l.Addr())
	c, s := testutil.Connect(t, Transport{}, u, &transport.Config{Self: req, Peer: rep, TLS: cliTLS}, l)
	defer c.Close()
	defer s.Close()
	testutil.Exchange(t, c, s, "secret")

	// A client that does not trust the server fails; there is no fallback.
	if _, err := (Transport{}).Dial(ctx, u, &transport.Config{Self: req, Peer: rep, TLS: &tls.Config{}}); err == nil {
		t.Fatal("untrusted server accepted")
	}
}

func TestNoConfig(t *testing.T) {
	ctx := context.Background()
	u, _ := transport.ParseURL("tls+tcp://127.0.0.1:0")
	if _, err := (Transport{}).Listen(ctx, u, &transport.Config{Self: rep, Peer: req}); !errors.Is(err, transport.ErrNoTLSConfig) {
		t.Fatalf("listen without config: %v", err)
	}
	if _, err := (Transport{}).Listen(ctx, u, &transport.Config{Self: rep, Peer: req, TLS: &tls.Config{}}); !errors.Is(err, transport.ErrNoTLSConfig) {
		t.Fatalf("listen without certificate: %v", err)
	}
	u, _ = transport.ParseURL("tls+tcp://127.0.0.1:1")
	if _, err := (Transport{}).Dial(ctx, u, &transport.Config{Self: req, Peer: rep}); !errors.Is(err, transport.ErrNoTLSConfig) {
		t.Fatalf("dial without config: %v", err)
	}
}
