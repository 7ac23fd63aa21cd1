package main

import (
	"context"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"go.uber.org/goleak"
)

// TestRecordEvents checks that the node's recorder takes snapshots with
// nobody reading the API, that the API's snapshots carry the events,
// and that stop ends its goroutine.
func TestRecordEvents(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var calls atomic.Int64
	p := status.ProviderFunc(func(ctx context.Context) (*status.Status, error) {
		n := calls.Add(1)
		st := &status.Status{Time: time.Now(), Node: status.Node{ID: "00000000000000a1"}}
		if n > 1 {
			st.Links = []status.Link{{Peer: "00000000000000b2", PeerName: "b"}}
		}
		return st, nil
	})
	api, stop := recordEvents(context.Background(), p)
	testutil.Eventually(t, "a second snapshot of the recorder", func() bool { return calls.Load() >= 2 })
	st, err := api.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Events) != 1 || st.Events[0].Kind != status.EventLinkUp {
		t.Errorf("events %+v, want one link-up", st.Events)
	}
	stop()
}
