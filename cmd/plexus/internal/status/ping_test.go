package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

// fakePinger is a fakeMesh that answers pings: b answers in 1 ms, c in
// 3 ms (through b), idLost has no route, idSilent never answers, and
// idGated answers once gate is closed.
type fakePinger struct {
	*fakeMesh
	gate    chan struct{}
	mu      sync.Mutex
	waiting int // pings of idGated waiting for the gate
}

const (
	idLost   = "00000000000000d4"
	idSilent = "00000000000000e5"
	idGated  = "00000000000000f6"
)

func newFakePinger() *fakePinger {
	return &fakePinger{fakeMesh: newFakeMesh(), gate: make(chan struct{})}
}

func (f *fakePinger) Resolve(target string) (Hop, error) {
	switch target {
	case idB, "b":
		return Hop{ID: idB, Name: "b"}, nil
	case idC, "c", "echo":
		return Hop{ID: idC, Name: "c"}, nil
	case idLost, idSilent, idGated:
		return Hop{ID: target}, nil
	case "dup":
		return Hop{}, TargetError(ErrAmbiguousTarget, errors.New(`2 nodes have the node name "dup": b (00000000), c (00000000)`))
	case "bad!":
		return Hop{}, TargetError(ErrBadTarget, errors.New(`"bad!" is neither a node id nor a name`))
	case "boom":
		return Hop{}, errors.New("boom")
	}
	return Hop{}, TargetError(ErrNoSuchTarget, fmt.Errorf("no node or service is named %q", target))
}

func (f *fakePinger) Path(id string) ([]Hop, int) {
	switch id {
	case idB:
		return nil, 1
	case idLost:
		return nil, -1
	}
	return []Hop{{ID: idB, Name: "b"}}, 2
}

func (f *fakePinger) Ping(ctx context.Context, id string) (time.Duration, error) {
	switch id {
	case idB:
		return time.Millisecond, nil
	case idC:
		return 3 * time.Millisecond, nil
	case idLost:
		return 0, errors.New("mesh: no route to host: " + id)
	case idGated:
		f.mu.Lock()
		f.waiting++
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.waiting--
			f.mu.Unlock()
		}()
		select {
		case <-f.gate:
			return 2 * time.Millisecond, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

// getJSON gets path from h and decodes the answer into v, unless it is
// not 200; it returns the status and the body.
func getJSON(t *testing.T, h http.Handler, path string, v any) (int, string) {
	t.Helper()
	r := get(t, h, "GET", path)
	b := body(t, r)
	if r.StatusCode == 200 {
		if err := json.Unmarshal([]byte(b), v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return r.StatusCode, b
}

// TestPingAPI: a ping request runs its probes and says which path they
// take; a far host that does not answer, or has no route, gives probes
// with errors, not a failed request.
func TestPingAPI(t *testing.T) {
	h := Handler(newFakePinger(), WithPingTimeout(time.Minute))
	var res PingResult
	if code, b := getJSON(t, h, PingPath+"?target=echo&count=3&interval=1ms", &res); code != 200 {
		t.Fatalf("ping: %d %s", code, b)
	}
	if res.Target != (Hop{ID: idC, Name: "c"}) || len(res.Path) != 1 || res.Path[0].Name != "b" || res.Hops != 2 {
		t.Errorf("ping: target %+v, path %+v, hops %d", res.Target, res.Path, res.Hops)
	}
	if res.Sent != 3 || res.Received != 3 || len(res.Probes) != 3 || res.Probes[2].Seq != 3 || res.Probes[0].RTT() != 3*time.Millisecond {
		t.Errorf("ping: %+v", res)
	}
	if res.MinMillis != 3 || res.AvgMillis != 3 || res.MaxMillis != 3 {
		t.Errorf("ping: min/avg/max %v/%v/%v", res.MinMillis, res.AvgMillis, res.MaxMillis)
	}

	code, b := getJSON(t, h, PingPath+"?target=b", &res)
	if code != 200 || res.Sent != 1 || res.Hops != 1 || res.Path == nil || len(res.Path) != 0 || !strings.Contains(b, `"path": []`) {
		t.Errorf("ping of a neighbour: %d %s", code, b)
	}

	code, b = getJSON(t, h, PingPath+"?target="+idLost+"&count=2", &res)
	if code != 200 || res.Sent != 2 || res.Received != 0 || res.Hops != -1 || !strings.Contains(res.Probes[1].Error, "no route") || strings.Contains(b, "min_ms") {
		t.Errorf("ping with no route: %d %s", code, b)
	}

	// A host that never answers: each probe gives up in time, and the
	// request within its limit.
	h = Handler(newFakePinger(), WithPingTimeout(50*time.Millisecond))
	code, b = getJSON(t, h, PingPath+"?target="+idSilent+"&count=5", &res)
	if code != 200 || res.Received != 0 || res.Sent < 1 || !strings.Contains(res.Probes[0].Error, "deadline exceeded") {
		t.Errorf("ping of a silent host: %d %s", code, b)
	}
}

// TestTraceAPI: a trace gives every hop with its own round trip, and the
// target last; no route gives no hops.
func TestTraceAPI(t *testing.T) {
	h := Handler(newFakePinger())
	var res TraceResult
	if code, b := getJSON(t, h, TracePath+"?target=c", &res); code != 200 {
		t.Fatalf("trace: %d %s", code, b)
	}
	want := []TraceHop{{Hop: 1, ID: idB, Name: "b", RTTMillis: 1}, {Hop: 2, ID: idC, Name: "c", RTTMillis: 3}}
	if !res.Reachable || len(res.Hops) != 2 || res.Hops[0] != want[0] || res.Hops[1] != want[1] {
		t.Errorf("trace: %+v", res)
	}
	code, b := getJSON(t, h, TracePath+"?target="+idLost, &res)
	if code != 200 || res.Reachable || len(res.Hops) != 0 || !strings.Contains(b, `"hops": []`) {
		t.Errorf("trace with no route: %d %s", code, b)
	}
}

// TestPingAPIErrors: bad requests, unknown and ambiguous targets, and
// providers that cannot ping are answered with their status and the
// error as JSON.
func TestPingAPIErrors(t *testing.T) {
	h := Handler(newFakePinger())
	tests := []struct {
		path string
		code int
		want string
	}{
		{PingPath, 400, "target is missing"},
		{TracePath + "?target=", 400, "target is missing"},
		{PingPath + "?target=c&count=0", 400, "want 1 to 100"},
		{PingPath + "?target=c&count=101", 400, "want 1 to 100"},
		{PingPath + "?target=c&count=x", 400, "want 1 to 100"},
		{PingPath + "?target=c&interval=-1s", 400, "interval"},
		{PingPath + "?target=c&interval=11s", 400, "interval"},
		{PingPath + "?target=c&interval=soon", 400, "interval"},
		{PingPath + "?target=c&count=100&interval=1s", 400, "take longer than the limit"},
		{PingPath + "?target=nobody", 404, `no node or service is named \"nobody\"`},
		{TracePath + "?target=nobody", 404, "nobody"},
		{PingPath + "?target=dup", 409, `b (00000000), c (00000000)`},
		{TracePath + "?target=dup", 409, "dup"},
		{PingPath + "?target=bad!", 400, "neither"},
		{PingPath + "?target=boom", 503, `"error":"boom"`},
	}
	for _, tt := range tests {
		code, b := getJSON(t, h, tt.path, nil)
		if code != tt.code || !strings.Contains(b, tt.want) || !strings.HasPrefix(b, `{"error":`) {
			t.Errorf("GET %s: %d %s, want %d with %q", tt.path, code, b, tt.code, tt.want)
		}
	}
	// A provider that does not ping, and none.
	plain := Handler(newFakeMesh())
	for _, path := range []string{PingPath + "?target=c", TracePath + "?target=c"} {
		if code, b := getJSON(t, plain, path, nil); code != 501 || !strings.Contains(b, "does not answer pings") {
			t.Errorf("GET %s of a provider without pings: %d %s", path, code, b)
		}
		if code, b := getJSON(t, Handler(nil), path, nil); code != 503 || !strings.Contains(b, ErrNoProvider.Error()) {
			t.Errorf("GET %s without a provider: %d %s", path, code, b)
		}
	}
	if r := get(t, h, "POST", PingPath+"?target=c"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST ping: %d", r.StatusCode)
	}
}

// TestPingAPIBusy: beyond MaxPingRequests requests at once, a request is
// refused with 429 until one ends.
func TestPingAPIBusy(t *testing.T) {
	f := newFakePinger()
	h := Handler(f)
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make(chan int, MaxPingRequests)
	for i := range MaxPingRequests {
		path := PingPath + "?target=" + idGated
		if i%2 == 1 {
			path = TracePath + "?target=" + idGated
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := http.Get(srv.URL + path)
			if err != nil {
				t.Error(err)
				codes <- 0
				return
			}
			r.Body.Close()
			codes <- r.StatusCode
		}()
	}
	testutil.WaitFor(t, "every slot taken", func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.waiting < MaxPingRequests {
			return fmt.Errorf("%d pings waiting", f.waiting)
		}
		return nil
	})
	for _, path := range []string{PingPath + "?target=b", TracePath + "?target=b"} {
		r := get(t, h, "GET", path)
		if b := body(t, r); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(b, "try again later") {
			t.Errorf("GET %s while busy: %d %s", path, r.StatusCode, b)
		}
	}
	close(f.gate)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 200 {
			t.Errorf("a request that held a slot: %d", code)
		}
	}
	var res PingResult
	if code, b := getJSON(t, h, PingPath+"?target=b", &res); code != 200 {
		t.Errorf("after the busy requests: %d %s", code, b)
	}
}
