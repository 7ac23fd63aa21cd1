package tlstcp

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/internal/testsupport/transporttest"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var req, rep = testutil.ReqRep()

func TestConformance(t *testing.T) {
	srvTLS, cliTLS := testutil.TLSConfigs(t)
	transporttest.Run(t, transporttest.Setup{
		Transport: Transport{},
		ListenURL: func(testing.TB) string { return "tls+tcp://127.0.0.1:0" },
		Config: func(_ testing.TB, cfg *transport.Config, listening bool) {
			if cfg.TLS = cliTLS; listening {
				cfg.TLS = srvTLS
			}
		},
		BadURLs: []string{"tls+tcp://nohost", "tls+tcp://h:1/path", "tls+tcp://"},
	})
}

// TestUntrustedServer: a client that does not trust the server fails;
// there is no fallback.
func TestUntrustedServer(t *testing.T) {
	ctx := context.Background()
	srvTLS, _ := testutil.TLSConfigs(t)
	u, _ := transport.ParseURL("tls+tcp://127.0.0.1:0")
	l, err := Transport{}.Listen(ctx, u, &transport.Config{Self: rep, Peer: req, TLS: srvTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ = transport.ParseURL(l.Addr())
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
