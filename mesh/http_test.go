package mesh

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// serveHTTP runs an http.Server on ln that answers with name and the
// caller's address, until the test ends.
func serveHTTP(t *testing.T, ln net.Listener, name string) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", name, r.URL.Path, r.RemoteAddr)
	})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}

func TestHTTPOverTheMesh(t *testing.T) {
	ns := nodes(t, 3)
	chain(t, ns)
	client, b, c := ns[0], ns[1], ns[2]
	lb, _ := b.Listen("", "billing")
	serveHTTP(t, lb, "billing@b")
	lc, _ := c.Listen("", "billing:8080")
	serveHTTP(t, lc, "billing@c")
	lp, _ := c.Listen("", ":9000")
	serveHTTP(t, lp, "port9000@c")
	eventually(t, "both billings", func() bool { return len(client.Services()) == 2 })
	tr := client.HTTPTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	get := func(url string) string {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		return string(body)
	}
	caller := (Addr{Host: client.ID()}).String()
	cases := map[string]string{
		"http://billing/x":                       "billing@b /x " + caller, // the nearest
		"http://billing:80/x":                    "billing@b /x " + caller,
		"http://billing:8080/y":                  "billing@c /y " + caller,
		"http://" + FormatID(c.ID()) + ":9000/z": "port9000@c /z " + caller,
		"http://" + FormatID(b.ID()) + ":" + strconv.Itoa(int(lb.Addr().(Addr).Port)) + "/w": "billing@b /w " + caller,
	}
	for url, want := range cases {
		for range 2 { // the second request reuses the connection
			if got := get(url); got != want {
				t.Fatalf("GET %s: %q, want %q", url, got, want)
			}
		}
	}
	if _, err := hc.Get("http://nosuch/"); !errors.Is(err, ErrNoService) {
		t.Fatalf("GET of an unknown service: %v", err)
	}
}
