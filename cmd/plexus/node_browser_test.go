package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/plexusnet/plexus/internal/testutil"
)

// chromiumPath returns the path of Chromium. When it is missing the test
// is skipped, except as root or under CI, where 'make deps' installs it
// and its absence is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Geteuid() == 0 || os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed: run 'make deps' (Debian: apt-get install chromium)")
	}
	t.Skip("Chromium is not installed (Debian: apt-get install chromium; 'make deps' installs it as root): skipping the end-to-end test of the status page")
	return ""
}

// headless starts a headless Chromium for the test and returns a tab's
// context and the JavaScript exceptions and console errors seen so far.
func headless(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	exe := chromiumPath(t)
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
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		// Its helper processes may write to the profile for a moment
		// after: remove it until it stays removed.
		for i := 0; i < 50; i++ {
			err := os.RemoveAll(profile)
			time.Sleep(100 * time.Millisecond)
			if _, serr := os.Stat(profile); err == nil && os.IsNotExist(serr) {
				return
			}
		}
		t.Logf("the browser profile %s could not be removed", profile)
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
		}
	})
	if err := chromedp.Run(ctx, runtime.Enable()); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// pageShows evaluates the JavaScript predicate cond in the page until it
// holds; on timeout it fails with what the page shows.
func pageShows(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(testutil.Patience)
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
			chromedp.Run(ctx, chromedp.Evaluate(pageSummary, &state))
			t.Fatalf("timed out waiting for %s; the page shows: %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	ctx, problems := headless(t)
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
		`[...document.querySelectorAll('#services tbody tr')].some(tr => tr.cells[0].textContent === 'echo' && tr.cells[1].textContent === '`+a.id+`')`)
	before := screenshot(t, ctx, dir, "node-before.png")

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
	after := screenshot(t, ctx, dir, "node-after-cut.png")
	t.Logf("screenshots: %s, %s", before, after)
	if p := problems(); len(p) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(p, "\n"))
	}
	a.stop(t)
	c.stop(t)
}

// screenshot saves a PNG of the page under dir.
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
