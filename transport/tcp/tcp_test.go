package tcp

import (
	"context"
	"errors"
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

func TestTCP(t *testing.T) {
	ctx := context.Background()
	u, _ := transport.ParseURL("tcp://127.0.0.1:0")
	l, err := Transport{}.Listen(ctx, u, repCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ = transport.ParseURL(l.Addr())
	if _, err := (Transport{}).Dial(ctx, u, repCfg); !errors.Is(err, transport.ErrProtocolMismatch) {
		t.Fatalf("rep to rep: %v", err)
	}
	c, s := testutil.Connect(t, Transport{}, u, reqCfg, l)
	defer c.Close()
	defer s.Close()
	testutil.Exchange(t, c, s, "hi")
}

func TestBadURLs(t *testing.T) {
	for _, raw := range []string{"tcp://nohost", "tcp://h:1/path", "tcp://"} {
		u, _ := transport.ParseURL(raw)
		if _, err := (Transport{}).Dial(context.Background(), u, reqCfg); !errors.Is(err, transport.ErrBadURL) {
			t.Errorf("Dial(%s) = %v", raw, err)
		}
		if _, err := (Transport{}).Listen(context.Background(), u, reqCfg); !errors.Is(err, transport.ErrBadURL) {
			t.Errorf("Listen(%s) = %v", raw, err)
		}
	}
}
