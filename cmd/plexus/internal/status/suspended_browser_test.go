package status

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plexusnet/plexus/cmd/plexus/internal/browsertest"
)

// TestPageSuspendedLink: the links table marks a suspended link (a
// resumable link whose connection broke, waiting for a resume) with how
// long it has been, and only that one; once it resumed, the mark goes.
func TestPageSuspendedLink(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	var resumed atomic.Bool
	provider := ProviderFunc(func(context.Context) (*Status, error) {
		now := time.Now()
		broke := now.Add(-12 * time.Second)
		st := &Status{
			Time: now,
			Node: Node{ID: idA, Name: "acme-prod", Started: now.Add(-time.Hour), UptimeSeconds: 3600},
			Links: []Link{
				{Peer: idB, PeerName: "relay-fra", Addr: "127.0.0.1:7001", Dialer: true, UpSince: now.Add(-time.Hour), Suspended: true, SuspendedSince: &broke},
				{Peer: idD, PeerName: "web-1", Addr: "10.20.30.40:51234", UpSince: now.Add(-time.Minute)},
			},
			Graph: Graph{Nodes: []GraphNode{{ID: idA, Reachable: true}, {ID: idB, Reachable: true, Hops: 1}, {ID: idD, Reachable: true, Hops: 1}}},
		}
		if resumed.Load() {
			st.Links[0].Suspended, st.Links[0].SuspendedSince = false, nil
		}
		return st, nil
	})
	srv := httptest.NewServer(Handler(provider))
	defer srv.Close()
	ctx, problems := browsertest.Start(t, time.Minute)
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(srv.URL+"/?every=200")); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, 20*time.Second, "relay-fra's link marked suspended, web-1's not",
		`(() => { const rows = [...document.querySelectorAll('#links tbody tr')];
		  const fra = rows.find(tr => tr.cells[0].dataset.id === '`+idB+`'), web = rows.find(tr => tr.cells[0].dataset.id === '`+idD+`');
		  return !!fra && !!web && fra.classList.contains('suspended') && fra.cells[1].textContent.endsWith(' suspended 12s') &&
		    fra.querySelector('.suspended-mark').title.includes('waiting for a resume') &&
		    !web.classList.contains('suspended') && !web.textContent.includes('suspended') })()`, pageState)
	resumed.Store(true)
	browsertest.WaitFor(t, ctx, 20*time.Second, "the mark gone once the link resumed",
		`document.querySelectorAll('#links tbody tr').length === 2 && document.querySelectorAll('#links tbody tr.suspended, #links .suspended-mark').length === 0`, pageState)
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}
}
