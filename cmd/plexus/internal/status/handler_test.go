package status

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHandlerPage: the page and its assets are served from the binary,
// with a policy that lets it load nothing from elsewhere.
func TestHandlerPage(t *testing.T) {
	h := Handler(newFakeMesh())
	r := get(t, h, "GET", "/")
	page := body(t, r)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, `<svg id="graph"`) {
		t.Fatalf("GET /: %d %q\n%s", r.StatusCode, r.Header.Get("Content-Type"), page)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page refers to another site")
	}
	for path, ctype := range map[string]string{"/static/app.js": "javascript", "/static/style.css": "text/css"} {
		r := get(t, h, "GET", path)
		b := body(t, r)
		if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Type"), ctype) || len(b) < 100 {
			t.Errorf("GET %s: %d %q, %d bytes", path, r.StatusCode, r.Header.Get("Content-Type"), len(b))
		}
		if strings.Contains(b, "https://") || strings.Contains(b, "cdn") {
			t.Errorf("%s loads from elsewhere", path)
		}
	}
	for _, path := range []string{"/nope", "/static/nope.js", "/api/v1/other"} {
		if r := get(t, h, "GET", path); r.StatusCode != 404 {
			t.Errorf("GET %s: %d", path, r.StatusCode)
		}
	}
	if r := get(t, h, "POST", APIPath); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
	if r := get(t, h, "HEAD", "/"); r.StatusCode != 200 {
		t.Errorf("HEAD /: %d", r.StatusCode)
	}
}

// TestHandlerAPI: the API serves the provider's snapshot as JSON, with
// the time filled in and empty lists instead of null.
func TestHandlerAPI(t *testing.T) {
	fake := newFakeMesh()
	h := Handler(fake)
	r := get(t, h, "GET", APIPath)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET %s: %d %q %q", APIPath, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
	}
	raw := body(t, r)
	var st Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatal(err)
	}
	if st.Node.ID != idA || len(st.Graph.Nodes) != 6 || len(st.Graph.Links) != 7 || len(st.Services) != 3 || st.Links[0].RTT() != 420*time.Microsecond {
		t.Fatalf("status %+v", st)
	}
	if st.Node.Uptime() < 90*time.Minute {
		t.Errorf("uptime %v", st.Node.Uptime())
	}
	for _, field := range []string{`"uptime_seconds"`, `"rtt_ms"`, `"bytes_in"`, `"next_hop"`, `"reachable"`, `"events": []`} {
		if !strings.Contains(raw, field) {
			t.Errorf("the JSON lacks %s:\n%s", field, raw)
		}
	}

	// A provider that leaves things out.
	h = Handler(ProviderFunc(func(context.Context) (*Status, error) { return &Status{Node: Node{ID: idA}}, nil }))
	raw = body(t, get(t, h, "GET", APIPath))
	if strings.Contains(raw, "null") || !strings.Contains(raw, `"links": []`) {
		t.Errorf("empty lists: %s", raw)
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Time.IsZero() {
		t.Errorf("time not set: %v %v", st.Time, err)
	}
}

// TestHandlerErrors: a failing, slow or missing provider is a 503 with
// the error as JSON.
func TestHandlerErrors(t *testing.T) {
	boom := errors.New("boom")
	h := Handler(ProviderFunc(func(context.Context) (*Status, error) { return nil, boom }))
	r := get(t, h, "GET", APIPath)
	if b := body(t, r); r.StatusCode != 503 || !strings.Contains(b, `"error":"boom"`) {
		t.Errorf("failing provider: %d %s", r.StatusCode, b)
	}
	h = Handler(ProviderFunc(func(ctx context.Context) (*Status, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}), WithTimeout(20*time.Millisecond))
	if r := get(t, h, "GET", APIPath); r.StatusCode != 503 || !strings.Contains(body(t, r), "deadline exceeded") {
		t.Errorf("slow provider: %d", r.StatusCode)
	}
	h = Handler(nil)
	if r := get(t, h, "GET", APIPath); r.StatusCode != 503 || !strings.Contains(body(t, r), ErrNoProvider.Error()) {
		t.Errorf("nil provider: %d", r.StatusCode)
	}
	h = Handler(ProviderFunc(func(context.Context) (*Status, error) { return nil, nil }))
	if r := get(t, h, "GET", APIPath); r.StatusCode != 503 {
		t.Errorf("nil status: %d", r.StatusCode)
	}
}
