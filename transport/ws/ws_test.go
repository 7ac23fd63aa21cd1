package ws

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/internal/testsupport/transporttest"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _, repCfg = testutil.ReqRepConfigs()

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Setup{
		Transport: Transport{},
		ListenURL: func(testing.TB) string { return "ws://127.0.0.1:0/sp" },
		BadURLs:   []string{"ws://nohost/x"},
	})
}

// TestWS: what ws adds to the suite: the listener keeps its path, the
// wrong protocol gets a 400, and a plain HTTP request is not served.
func TestWS(t *testing.T) {
	ctx := context.Background()
	u, _ := transport.ParseURL("ws://127.0.0.1:0/sp")
	l, err := Transport{}.Listen(ctx, u, repCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.HasSuffix(l.Addr(), "/sp") {
		t.Fatal(l.Addr())
	}
	u, _ = transport.ParseURL(l.Addr())

	// The wrong protocol gets a 400 and a clear error.
	if _, err := (Transport{}).Dial(ctx, u, repCfg); !errors.Is(err, transport.ErrProtocolMismatch) {
		t.Fatalf("rep to rep: %v", err)
	}
	// A plain HTTP request is not served.
	resp, err := http.Get("http://" + u.Host + "/sp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
}
