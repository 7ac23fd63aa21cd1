package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plexusnet/plexus/cmd/plexus/internal/browsertest"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// pageShows waits until the JavaScript predicate cond holds in the page;
// on timeout it fails with what the page shows.
func pageShows(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	browsertest.WaitFor(t, ctx, testutil.Patience, what, cond, pageSummary)
}

// pageSummary is JavaScript that describes what the status page shows.
const pageSummary = `JSON.stringify({
	state: document.getElementById('state').textContent,
	nodes: [...document.querySelectorAll('#graph .node')].map(n => n.dataset.id + (n.dataset.self === 'true' ? '*' : '') + (n.classList.contains('unreachable') ? '?' : '')),
	links: [...document.querySelectorAll('#graph .link')].map(l => l.dataset.a + '-' + l.dataset.b),
	services: document.querySelector('#services tbody').textContent,
})`

// TestStatusPageEndToEnd starts three plexus node processes in a chain
// over loopback TCP (a - b - c, a exposing echo), opens c's status page
// in headless Chromium, and checks that the graph shows three nodes and
// two links and that the services table lists echo on a; then b stops,
// cutting both links, and the page follows without a reload: c's link
// goes from the graph and echo from the services table. Screenshots are
// saved under the test's temp dir (or $PLEXUS_SCREENSHOTS, to keep
// them), their paths logged.
func TestStatusPageEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes and a browser")
	}
	ctx, problems := browsertest.Start(t, 3*time.Minute)
	echo := echoServer(t)
	b := startNode(t, "--insecure", "--listen", "tcp://127.0.0.1:0")
	a := startNode(t, "--insecure", "--join", b.link, "--relay=false", "--expose", "echo="+echo)
	c := startNode(t, "--insecure", "--join", b.link, "--relay=false")
	dir := os.Getenv("PLEXUS_SCREENSHOTS") // to keep them
	if dir == "" {
		dir = t.TempDir()
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(c.api+"/?every=250")); err != nil {
		t.Fatal(err)
	}
	pageShows(t, ctx, "three nodes and two links",
		`document.querySelectorAll('#graph .node').length === 3 && document.querySelectorAll('#graph .link').length === 2 &&
		 document.querySelector('#graph .node[data-self="true"]').dataset.id === '`+c.id+`'`)
	pageShows(t, ctx, "echo on a in the services table",
		`[...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'echo' && tr.cells[1].dataset.id === '`+a.id+`')`)
	before := browsertest.Screenshot(t, ctx, dir, "node-before.png")

	b.signal(t, syscall.SIGTERM)
	if code, _ := b.wait(t); code != 0 {
		t.Errorf("b exited %d: %s", code, b.errOut())
	}
	pageShows(t, ctx, "the cut links and the service gone",
		`![...document.querySelectorAll('#graph .link')].some(l => l.dataset.a === '`+c.id+`' || l.dataset.b === '`+c.id+`') &&
		 ![...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'echo') &&
		 (n => n === null || n.classList.contains('unreachable'))(document.querySelector('#graph .node[data-id="`+a.id+`"]'))`)
	var navigations int
	if err := chromedp.Run(ctx, chromedp.Evaluate(`performance.getEntriesByType('navigation').length`, &navigations)); err != nil || navigations != 1 {
		t.Errorf("the page reloaded: %d navigations (%v)", navigations, err)
	}
	after := browsertest.Screenshot(t, ctx, dir, "node-after-cut.png")
	t.Logf("screenshots: %s, %s", before, after)
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}
	a.stop(t)
	c.stop(t)
}
