package status

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
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

// chromium returns the path of a Chromium or Chrome, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("Chromium is not installed (Debian: apt-get install chromium; 'make deps' installs it when run as root): skipping the browser test of the status page")
	return ""
}

// browser starts a headless Chromium for the test, with the flags this
// machine's closed network needs, and returns a tab's context; the
// browser ends with the test. JavaScript exceptions and console or log
// errors are collected in errs.
func browser(t *testing.T) (ctx context.Context, errs func() []string) {
	t.Helper()
	exe := chromium(t)
	profile, err := os.MkdirTemp("", "plexus-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		removeProfile(t, profile)
	})
	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				problems = append(problems, "log: "+ev.Entry.Text)
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// removeProfile removes the browser's profile directory once it stays
// removed: the browser's helper processes may write to it for a moment
// after the browser has exited.
func removeProfile(t *testing.T, dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.RemoveAll(dir)
		time.Sleep(200 * time.Millisecond)
		if _, serr := os.Stat(dir); err == nil && os.IsNotExist(serr) {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("the browser profile %s could not be removed: %v", dir, err)
			return
		}
	}
}

// eventually evaluates the JavaScript predicate cond in the page until
// it is true; on timeout it fails with what explain evaluates to.
func eventually(t *testing.T, ctx context.Context, what, cond, explain string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := chromedp.Run(ctx, chromedp.Evaluate(cond, &ok)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var state string
			chromedp.Run(ctx, chromedp.Evaluate(explain, &state))
			t.Fatalf("timed out waiting for %s; the page shows: %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves a PNG of the page under dir and logs its path.
func screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
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
	ctx, problems := browser(t)
	dir := os.Getenv("PLEXUS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/?every=200")); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "three nodes and two links",
		`document.querySelectorAll('#graph .node').length === 3 && document.querySelectorAll('#graph .link').length === 2`, pageState)
	checks := map[string]string{
		"this node is marked, and is a": `(() => { const s = document.querySelectorAll('#graph .node[data-self="true"]'); return s.length === 1 && s[0].dataset.id === '` + idA + `' && s[0].querySelector('.ring') !== null })()`,
		"the relays are drawn apart":    `document.querySelectorAll('#graph .node[data-relay="true"] rect.shape').length === 2 && document.querySelectorAll('#graph .node[data-relay="false"] circle.shape').length === 1`,
		"the services table lists echo": `[...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'echo' && tr.cells[1].textContent === '` + idC + `')`,
		"the routes table lists c":      `[...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].textContent === '` + idC + `' && tr.cells[2].textContent === '2')`,
		"the header shows the node":     `document.getElementById('node-id').textContent === '` + idA + `' && document.getElementById('node-uptime').textContent === '1h 30m'`,
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
	eventually(t, ctx, "the throughput of the link to b",
		`document.querySelector('#links tbody tr').cells[6].textContent.endsWith('/s') && document.querySelector('#graph .rate') !== null`, pageState)
	before := screenshot(t, ctx, dir, "status-before.png")

	fake.cutLink()
	eventually(t, ctx, "the cut link to disappear",
		`document.querySelectorAll('#graph .link').length === 1 &&
		 document.querySelector('#graph .node[data-id="`+idC+`"]').classList.contains('unreachable') &&
		 document.querySelector('#services tbody tr.empty') !== null &&
		 ![...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].textContent === '`+idC+`')`, pageState)
	var navigations int
	if err := chromedp.Run(ctx, chromedp.Evaluate(`performance.getEntriesByType('navigation').length`, &navigations)); err != nil || navigations != 1 {
		t.Errorf("the page reloaded: %d navigations (%v)", navigations, err)
	}
	after := screenshot(t, ctx, dir, "status-after-cut.png")
	t.Logf("screenshots: %s, %s", before, after)
	if dir != os.Getenv("PLEXUS_SCREENSHOTS") {
		t.Log("(removed with the test's temp dir; set PLEXUS_SCREENSHOTS=DIR to keep them)")
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}

	// The node going away shows as an error, and the page recovers.
	h.set(Handler(ProviderFunc(func(context.Context) (*Status, error) { return nil, fmt.Errorf("node stopping") })))
	eventually(t, ctx, "the error state", `document.getElementById('state').dataset.state === 'error' && document.getElementById('state').textContent.includes('node stopping')`, pageState)
	h.set(Handler(fake))
	eventually(t, ctx, "recovery", `document.getElementById('state').dataset.state === 'ok'`, pageState)
}
