package status

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plexusnet/plexus/cmd/plexus/internal/browsertest"
)

// swapHandler is an http.Handler that a test may replace while it
// serves.
type swapHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swapHandler) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

// pageState is JavaScript that describes what the page shows, for
// failure messages.
const pageState = `JSON.stringify({
	state: document.getElementById('state').textContent,
	nodes: [...document.querySelectorAll('#graph .node')].map(n => n.dataset.id + (n.dataset.self === 'true' ? '*' : '') + (n.classList.contains('unreachable') ? '?' : '')),
	links: [...document.querySelectorAll('#graph .link')].map(l => l.dataset.a + '-' + l.dataset.b),
	services: document.querySelector('#services tbody').textContent,
	links_table: document.querySelector('#links tbody').textContent,
})`

// TestPageInBrowser opens the status page in headless Chromium against a
// fake mesh of three nodes and two links: the graph shows them, this
// node marked and the relays apart, the tables list the service, the
// route and the link with its throughput; then a link is cut and the page
// follows without a reload. Screenshots are saved under the test's temp
// dir (or $PLEXUS_SCREENSHOTS, to keep them).
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	fake := newFakeMesh()
	var h swapHandler
	h.set(Handler(fake))
	srv := httptest.NewServer(&h)
	defer srv.Close()
	ctx, problems := browsertest.Start(t, 2*time.Minute)
	dir := os.Getenv("PLEXUS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/?every=200")); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, 20*time.Second, "three nodes and two links",
		`document.querySelectorAll('#graph .node').length === 3 && document.querySelectorAll('#graph .link').length === 2`, pageState)
	checks := map[string]string{
		"this node is marked, and is a": `(() => { const s = document.querySelectorAll('#graph .node[data-self="true"]'); return s.length === 1 && s[0].dataset.id === '` + idA + `' && s[0].querySelector('.ring') !== null })()`,
		"the relays are drawn apart":    `document.querySelectorAll('#graph .node[data-relay="true"] rect.shape').length === 2 && document.querySelectorAll('#graph .node[data-relay="false"] circle.shape').length === 1`,
		"the services table lists echo": `[...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'echo' && tr.cells[1].textContent === '` + idC + `')`,
		"the routes table lists c":      `[...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].textContent === '` + idC + `' && tr.cells[2].textContent === '2')`,
		"the header shows the node":     `document.getElementById('node-id').textContent === '` + idA + `' && document.getElementById('node-uptime').textContent === '1h 30m'`,
		"the header shows the policy":   `document.getElementById('node-policy').textContent === 'enforced'`,
		"the state is ok":               `document.getElementById('state').dataset.state === 'ok'`,
	}
	for what, cond := range checks {
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(cond, &ok)); err != nil || !ok {
			var state string
			chromedp.Run(ctx, chromedp.Evaluate(pageState, &state))
			t.Errorf("%s: %v (%v); the page shows %s", what, ok, err, state)
		}
	}
	// Throughput: the fake's counter grows 250 kB per snapshot, so the
	// link to b shows a rate once two snapshots are in.
	browsertest.WaitFor(t, ctx, 20*time.Second, "the throughput of the link to b",
		`document.querySelector('#links tbody tr').cells[6].textContent.endsWith('/s') && document.querySelector('#graph .rate') !== null`, pageState)
	before := browsertest.Screenshot(t, ctx, dir, "status-before.png")

	fake.cutLink()
	browsertest.WaitFor(t, ctx, 20*time.Second, "the cut link to disappear",
		`document.querySelectorAll('#graph .link').length === 1 &&
		 document.querySelector('#graph .node[data-id="`+idC+`"]').classList.contains('unreachable') &&
		 document.querySelector('#services tbody tr.empty') !== null &&
		 ![...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].textContent === '`+idC+`')`, pageState)
	var navigations int
	if err := chromedp.Run(ctx, chromedp.Evaluate(`performance.getEntriesByType('navigation').length`, &navigations)); err != nil || navigations != 1 {
		t.Errorf("the page reloaded: %d navigations (%v)", navigations, err)
	}
	after := browsertest.Screenshot(t, ctx, dir, "status-after-cut.png")
	t.Logf("screenshots: %s, %s", before, after)
	if dir != os.Getenv("PLEXUS_SCREENSHOTS") {
		t.Log("(removed with the test's temp dir; set PLEXUS_SCREENSHOTS=DIR to keep them)")
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}

	// The node going away shows as an error, and the page recovers.
	h.set(Handler(ProviderFunc(func(context.Context) (*Status, error) { return nil, fmt.Errorf("node stopping") })))
	browsertest.WaitFor(t, ctx, 20*time.Second, "the error state", `document.getElementById('state').dataset.state === 'error' && document.getElementById('state').textContent.includes('node stopping')`, pageState)
	h.set(Handler(fake))
	browsertest.WaitFor(t, ctx, 20*time.Second, "recovery", `document.getElementById('state').dataset.state === 'ok'`, pageState)
}
