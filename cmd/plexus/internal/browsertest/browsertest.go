// Package browsertest drives a headless Chromium for the tests of the
// status page (cmd/plexus/internal/status and plexus node's end-to-end
// test), with github.com/chromedp/chromedp. Only tests import it.
package browsertest

import (
	"context"
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

// Chromium returns the path of a Chromium or Chrome. When there is none
// the test is skipped, except as root or under CI, where 'make deps'
// installs it and its absence is a failure.
func Chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Geteuid() == 0 || os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed: run 'make deps' (Debian: apt-get install chromium)")
	}
	t.Skip("Chromium is not installed (Debian: apt-get install chromium; 'make deps' installs it when run as root): skipping the browser test of the status page")
	return ""
}

// Start starts a headless Chromium, with the flags this machine's closed
// network needs, for at most timeout, and returns a tab's context; the
// browser ends with the test. problems returns the JavaScript exceptions
// and the console and log errors seen so far.
func Start(t *testing.T, timeout time.Duration) (ctx context.Context, problems func() []string) {
	t.Helper()
	exe := Chromium(t)
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
	ctx, cancelTime := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		removeProfile(t, profile)
	})
	var mu sync.Mutex
	var seen []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			seen = append(seen, "exception: "+ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				seen = append(seen, "console.error: "+strings.Join(args, " "))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				seen = append(seen, "log: "+ev.Entry.Text)
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
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

// WaitFor evaluates the JavaScript predicate cond in the page until it
// is true, for at most patience; on timeout it fails with what the
// JavaScript explain evaluates to.
func WaitFor(t *testing.T, ctx context.Context, patience time.Duration, what, cond, explain string) {
	t.Helper()
	deadline := time.Now().Add(patience)
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

// Screenshot saves a PNG of the page as dir/name and returns its path.
func Screenshot(t *testing.T, ctx context.Context, dir, name string) string {
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
