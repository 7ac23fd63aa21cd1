package status

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	labels: [...document.querySelectorAll('#graph text')].map(t => t.textContent),
	details: document.getElementById('details').textContent,
	events: [...document.querySelectorAll('#events li')].map(li => li.textContent),
	services: document.querySelector('#services tbody').textContent,
	links_table: document.querySelector('#links tbody').textContent,
})`

// layoutProblems is JavaScript that lists what a person could not read
// in the page: two texts of the graph overlapping, an edge crossing a
// text, a text outside the graph's panel, and a page wider than the
// window (a horizontal scroll bar).
const layoutProblems = `JSON.stringify((() => {
	const problems = [];
	const svg = document.getElementById('graph');
	const frame = svg.getBoundingClientRect();
	const texts = [...svg.querySelectorAll('text')];
	const name = t => JSON.stringify(t.textContent);
	const boxes = texts.map(t => { const b = t.getBoundingClientRect(); return {x: b.x + 0.5, y: b.y + 0.5, w: b.width - 1, h: b.height - 1}; });
	for (let i = 0; i < texts.length; i++) {
		const a = boxes[i];
		if (a.w <= 0 || a.h <= 0) problems.push('empty text ' + name(texts[i]));
		if (a.x < frame.x || a.y < frame.y || a.x + a.w > frame.right || a.y + a.h > frame.bottom) problems.push(name(texts[i]) + ' outside the graph');
		for (let j = i + 1; j < texts.length; j++) {
			const b = boxes[j];
			if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) problems.push(name(texts[i]) + ' overlaps ' + name(texts[j]));
		}
	}
	const crosses = (p, q, r) => {
		let t0 = 0, t1 = 1;
		const dx = q.x - p.x, dy = q.y - p.y;
		for (const [pp, qq] of [[-dx, p.x - r.x], [dx, r.x + r.w - p.x], [-dy, p.y - r.y], [dy, r.y + r.h - p.y]]) {
			if (pp === 0) { if (qq < 0) return false; continue; }
			const t = qq / pp;
			if (pp < 0) { if (t > t1) return false; if (t > t0) t0 = t; } else { if (t < t0) return false; if (t < t1) t1 = t; }
		}
		return true;
	};
	for (const l of svg.querySelectorAll('line.link')) {
		const m = l.getScreenCTM();
		const pt = (x, y) => new DOMPoint(Number(l.getAttribute(x)), Number(l.getAttribute(y))).matrixTransform(m);
		const p = pt('x1', 'y1'), q = pt('x2', 'y2');
		boxes.forEach((b, i) => { if (crosses(p, q, b)) problems.push('the edge ' + l.dataset.a.slice(0, 8) + '-' + l.dataset.b.slice(0, 8) + ' crosses ' + name(texts[i])); });
	}
	const doc = document.documentElement;
	if (doc.scrollWidth > doc.clientWidth) problems.push('the page is ' + doc.scrollWidth + ' px wide in a window of ' + doc.clientWidth);
	return problems;
})())`

// graphText is JavaScript: all the text the graph shows (not the
// tooltips).
const graphText = `[...document.querySelectorAll('#graph text')].map(t => [...t.childNodes].filter(c => c.nodeName !== 'title').map(c => c.textContent).join('')).join('\n')`

// nodePositions is JavaScript: where each node is drawn.
const nodePositions = `JSON.stringify(Object.fromEntries([...document.querySelectorAll('#graph .node')].map(n => [n.dataset.id, n.dataset.x + ',' + n.dataset.y])))`

// eval evaluates the JavaScript expression js in the page into out, or
// fails the test.
func eval(t *testing.T, ctx context.Context, js string, out any) {
	t.Helper()
	if err := chromedp.Run(ctx, chromedp.Evaluate(js, out)); err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
}

// checkLayout fails the test for each layout problem of the page.
func checkLayout(t *testing.T, ctx context.Context, size string) {
	t.Helper()
	var raw string
	eval(t, ctx, layoutProblems, &raw)
	var problems []string
	if err := json.Unmarshal([]byte(raw), &problems); err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("at %s: %s", size, p)
	}
}

// checkNames fails the test for each name the graph does not show.
func checkNames(t *testing.T, ctx context.Context, size string) {
	t.Helper()
	var text string
	eval(t, ctx, graphText, &text)
	for _, want := range []string{"gw-paris (a1c4e2f0)", "relay-fra (b2d9f310)", "db-1 (c3e05a2b)", "web-1 (d4f16b3c)", "edge-lon (f6183d5e)", "e5072c4d", "echo, postgres", "web"} {
		if !strings.Contains(text, want) {
			t.Errorf("at %s: the graph does not show %q; it shows:\n%s", size, want, text)
		}
	}
}

// TestPageInBrowser opens the status page in headless Chromium against a
// fake mesh of six nodes, at 1280x800 and at 1920x1080, and checks what
// a person must see: the names on the nodes, this node marked, the rates
// of its links each way, no label over another or crossed by an edge,
// no horizontal scroll bar, the tables (links, joins with their errors,
// sidecars, services, routes, circuits), a node's details on a click,
// positions that stay put while only counters change; then a link is cut
// and the page follows without a reload, no node moving: the lost node
// with its last seen time, and the events, newest first. Screenshots are
// saved under the test's temp dir (or $PLEXUS_SCREENSHOTS, to keep them);
// PLEXUS_SCREENSHOT=FILE also writes the 1280x800 picture of the README
// (docs/status-page.png).
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	fake := newFakeMesh()
	rec := NewRecorder(0)
	// The recorder saw the mesh a minute ago, before a's link to f came
	// up, so that the page opens on a few events.
	earlier, _ := fake.Status(context.Background())
	earlier.Time = earlier.Time.Add(-time.Minute)
	earlier.Links = earlier.Links[:2]
	earlier.Joins[1].State = "redialing"
	earlier.Graph.Nodes[5].Reachable, earlier.Graph.Nodes[5].Hops = false, -1
	rec.Observe(earlier)
	var h swapHandler
	h.set(Handler(rec.Provider(fake)))
	srv := httptest.NewServer(&h)
	defer srv.Close()
	ctx, problems := browsertest.Start(t, 3*time.Minute)
	dir := os.Getenv("PLEXUS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}

	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(srv.URL+"/?every=200")); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, 20*time.Second, "six nodes, seven links and the rates of a's three links",
		`document.querySelectorAll('#graph .node').length === 6 && document.querySelectorAll('#graph .link').length === 7 &&
		 document.querySelectorAll('#graph text.rate').length === 6`, pageState)
	checks := map[string]string{
		"this node is marked, and is a":   `(() => { const s = document.querySelectorAll('#graph .node[data-self="true"]'); return s.length === 1 && s[0].dataset.id === '` + idA + `' && s[0].querySelector('.ring') !== null })()`,
		"the relays are drawn apart":      `document.querySelectorAll('#graph .node[data-relay="true"] polygon.shape').length === 3 && document.querySelectorAll('#graph .node[data-relay="false"] circle.shape').length === 3`,
		"web-1's name is unverified":      `(() => { const t = [...document.querySelectorAll('#graph text.label')].find(t => t.dataset.id === '` + idD + `'); return t.querySelector('.nm').classList.contains('unverified') && t.querySelector('title').textContent.includes('not verified by a certificate') })()`,
		"relay-fra's name is verified":    `![...document.querySelectorAll('#graph text.label')].find(t => t.dataset.id === '` + idB + `').querySelector('.nm').classList.contains('unverified')`,
		"the rates go both ways":          `(() => { const r = [...document.querySelectorAll('#graph text.rate')].map(t => t.firstChild.textContent); return r.filter(s => /^[→←↑↓] [0-9.]+ (B|KiB|MiB)\/s$/.test(s)).length === 6 })()`,
		"the services table names hosts":  `[...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'postgres' && tr.cells[1].textContent === 'db-1 (c3e05a2b)' && tr.cells[1].dataset.id === '` + idC + `')`,
		"the routes table lists e by id":  `[...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].textContent === 'e5072c4d' && tr.cells[0].title === '` + idE + `' && tr.cells[2].textContent === '2')`,
		"the graph count is plural":       `document.getElementById('graph-count').textContent === '(6 nodes, 7 links)'`,
		"the joins show their state":      `[...document.querySelectorAll('#joins tbody tr')].some(tr => tr.cells[1].textContent === 'redialing' && tr.cells[4].textContent.includes('connection refused'))`,
		"the sidecars are listed":         `[...document.querySelectorAll('#sidecars tbody tr')].map(tr => tr.cells[0].textContent).join() === 'expose,forward'`,
		"the header shows the node":       `document.getElementById('node-id').textContent === '` + idA + `' && document.getElementById('node-title').textContent === 'gw-paris' && document.getElementById('node-uptime').textContent === '1h 30m'`,
		"the header warns of the expiry":  `document.getElementById('node-cert').classList.contains('warn') && /\(in (19|20)d/.test(document.getElementById('node-cert').textContent)`,
		"the header shows the revocation": `document.getElementById('node-revoked').textContent === '1 node (list 3)' && !document.getElementById('node-revoked-item').hidden`,
		"the header shows the policy":     `document.getElementById('node-policy').textContent === 'certificate'`,
		"units are binary":                `document.querySelector('#links tbody').textContent.includes('KiB') && !document.body.textContent.includes(' kB')`,
		"the state is ok":                 `document.getElementById('state').dataset.state === 'ok'`,
	}
	for what, cond := range checks {
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(cond, &ok)); err != nil || !ok {
			var state string
			chromedp.Run(ctx, chromedp.Evaluate(pageState, &state))
			t.Errorf("%s: %v (%v); the page shows %s", what, ok, err, state)
		}
	}
	checkNames(t, ctx, "1280x800")
	checkLayout(t, ctx, "1280x800")

	// Only counters change from one snapshot to the next: the nodes stay
	// where they are.
	var before, after, updated string
	eval(t, ctx, nodePositions, &before)
	eval(t, ctx, `document.getElementById('state').textContent`, &updated)
	browsertest.WaitFor(t, ctx, 20*time.Second, "two more updates",
		`(() => { const s = document.getElementById('state').textContent; if (s !== window.__seen) { window.__updates = (window.__updates || 0) + 1; window.__seen = s; } return window.__updates >= 3 })()`, pageState)
	eval(t, ctx, nodePositions, &after)
	if before != after {
		t.Errorf("the nodes moved while only counters changed:\nbefore %s\nafter  %s", before, after)
	}

	// A click on a node shows its details.
	if err := chromedp.Run(ctx, chromedp.Click(`#graph .node[data-id="`+idD+`"] .shape`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, 20*time.Second, "web-1's details",
		`(() => { const d = document.getElementById('details-list'); return !d.hidden && d.textContent.includes('`+idD+`') && d.textContent.includes('not verified by a certificate') &&
		  d.textContent.includes('web') && d.textContent.includes('e5072c4d') && d.textContent.includes('1 hop away') &&
		  document.querySelector('#graph .node[data-id="`+idD+`"]').classList.contains('selected') })()`, pageState)
	browsertest.Screenshot(t, ctx, dir, "status-1280.png")

	fake.cutLink()
	browsertest.WaitFor(t, ctx, 20*time.Second, "the cut link to disappear, db-1 lost with its last seen time, and the events",
		`document.querySelectorAll('#graph .link').length === 6 &&
		 document.querySelector('#graph .node[data-id="`+idC+`"]').classList.contains('unreachable') &&
		 /last seen \d+s ago/.test([...document.querySelectorAll('#graph text.label')].find(t => t.dataset.id === '`+idC+`').textContent) &&
		 ![...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'postgres') &&
		 ![...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].dataset.id === '`+idC+`') &&
		 [...document.querySelectorAll('#events li')].some(li => li.dataset.kind === 'node-lost' && li.textContent.includes('db-1 (c3e05a2b)')) &&
		 [...document.querySelectorAll('#events li')].some(li => li.dataset.kind === 'join-error' && li.textContent.includes('refused')) &&
		 [...document.querySelectorAll('#events li')].some(li => li.dataset.kind === 'link-up' && li.textContent.includes('edge-lon (f6183d5e)')) &&
		 ['node-lost', 'service-withdrawn', 'join-error'].includes(document.querySelector('#events li').dataset.kind)`, pageState)
	var navigations int
	if err := chromedp.Run(ctx, chromedp.Evaluate(`performance.getEntriesByType('navigation').length`, &navigations)); err != nil || navigations != 1 {
		t.Errorf("the page reloaded: %d navigations (%v)", navigations, err)
	}
	// The nodes stay where they were, and the lost one shows when it was
	// last seen in its details.
	var cut string
	eval(t, ctx, nodePositions, &cut)
	if cut != after {
		t.Errorf("the nodes moved when a link was cut:\nbefore %s\nafter  %s", after, cut)
	}
	if err := chromedp.Run(ctx, chromedp.Click(`#graph .node[data-id="`+idC+`"] .shape`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, 20*time.Second, "db-1's details",
		`(() => { const d = document.getElementById('details-list'); return !d.hidden && d.textContent.includes('`+idC+`') && d.textContent.includes('unreachable') &&
		  /last seen.*\d+s ago/.test(d.textContent) && d.textContent.includes('echo, postgres') && d.textContent.includes('(verified by its certificate)') })()`, pageState)
	checkNames(t, ctx, "1280x800, cut")
	checkLayout(t, ctx, "1280x800, cut")
	if path := os.Getenv("PLEXUS_SCREENSHOT"); path != "" {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	browsertest.Screenshot(t, ctx, dir, "status-1280-cut.png")

	// The same at 1920x1080.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, 20*time.Second, "the graph to fill the wider window",
		`document.getElementById('graph').viewBox.baseVal.width === document.getElementById('graph').clientWidth && document.getElementById('graph').clientWidth > 900`, pageState)
	checkNames(t, ctx, "1920x1080")
	checkLayout(t, ctx, "1920x1080")
	shot := browsertest.Screenshot(t, ctx, dir, "status-1920-cut.png")
	t.Logf("screenshots: %s", filepath.Dir(shot))
	if dir != os.Getenv("PLEXUS_SCREENSHOTS") {
		t.Log("(removed with the test's temp dir; set PLEXUS_SCREENSHOTS=DIR to keep them)")
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}

	// The node going away shows as an error, and the page recovers.
	h.set(Handler(ProviderFunc(func(context.Context) (*Status, error) { return nil, fmt.Errorf("node stopping") })))
	browsertest.WaitFor(t, ctx, 20*time.Second, "the error state", `document.getElementById('state').dataset.state === 'error' && document.getElementById('state').textContent.includes('node stopping')`, pageState)
	h.set(Handler(rec.Provider(fake)))
	browsertest.WaitFor(t, ctx, 20*time.Second, "recovery", `document.getElementById('state').dataset.state === 'ok'`, pageState)
}
