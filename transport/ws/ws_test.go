package ws

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	req, rep = testutil.ReqRep()
	reqCfg   = &transport.Config{Self: req, Peer: rep}
	repCfg   = &transport.Config{Self: rep, Peer: req, MaxRecvSize: 100}
)

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

	c, s := testutil.Connect(t, Transport{}, u, reqCfg, l)
	defer c.Close()
	defer s.Close()
	batch := transport.AppendFrame(nil, []byte("one"))
	batch = transport.AppendFrame(batch, []byte("two"))
	if err := c.Send(batch); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two"} {
		if m, err := s.Recv(); err != nil || string(m) != want {
			t.Fatalf("%q %v", m, err)
		}
	}
	// Over the limit: an error, the pipe is done.
	c.Send(transport.AppendFrame(nil, make([]byte, 200)))
	if _, err := s.Recv(); !errors.Is(err, transport.ErrMsgTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	c.Close()
	if _, err := c.Recv(); err == nil {
		t.Fatal("recv on closed pipe")
	}
}

func TestBadURL(t *testing.T) {
	u, _ := transport.ParseURL("ws://nohost/x")
	if _, err := (Transport{}).Dial(context.Background(), u, reqCfg); !errors.Is(err, transport.ErrBadURL) {
		t.Fatal(err)
	}
	if _, err := (Transport{}).Listen(context.Background(), u, reqCfg); !errors.Is(err, transport.ErrBadURL) {
		t.Fatal(err)
	}
}
