package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The ping and trace API (see Pinger): the handler resolves the target,
// runs the probes one after another within its bounds, and writes the
// result; the Pinger only resolves, reads paths and pings.

// servePing answers GET /api/v1/ping?target=T&count=N&interval=D.
func (h *handler) servePing(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	count, interval := 1, time.Duration(0)
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPingCount {
			writeError(w, http.StatusBadRequest, fmt.Errorf("count %q: want 1 to %d", s, MaxPingCount))
			return
		}
		count = n
	}
	if s := q.Get("interval"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > MaxPingInterval {
			writeError(w, http.StatusBadRequest, fmt.Errorf("interval %q: want a duration from 0 to %v", s, MaxPingInterval))
			return
		}
		interval = d
	}
	if h.pingTimeout > 0 && time.Duration(count-1)*interval >= h.pingTimeout {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%d probes %v apart take longer than the limit of a request, %v", count, interval, h.pingTimeout))
		return
	}
	h.probe(w, r, func(ctx context.Context, p Pinger, target Hop) any {
		res := &PingResult{Target: target, Path: []Hop{}, Probes: []Probe{}}
		var sum float64
		for seq := 1; seq <= count; seq++ {
			if seq > 1 && !sleep(ctx, interval) {
				break
			}
			if ctx.Err() != nil {
				break
			}
			pr := Probe{Seq: seq}
			if rtt, err := ping(ctx, p, target.ID); err != nil {
				pr.Error = err.Error()
			} else {
				ms := millis(rtt)
				pr.RTTMillis = ms
				sum += ms
				if res.Received == 0 || ms < res.MinMillis {
					res.MinMillis = ms
				}
				res.MaxMillis = max(res.MaxMillis, ms)
				res.Received++
			}
			res.Sent++
			res.Probes = append(res.Probes, pr)
		}
		if res.Received > 0 {
			res.AvgMillis = sum / float64(res.Received)
		}
		// The path after the probes: the circuit the first one set up.
		path, hops := p.Path(target.ID)
		res.Path, res.Hops = orEmpty(path), hops
		return res
	})
}

// serveTrace answers GET /api/v1/trace?target=T.
func (h *handler) serveTrace(w http.ResponseWriter, r *http.Request) {
	h.probe(w, r, func(ctx context.Context, p Pinger, target Hop) any {
		res := &TraceResult{Target: target, Hops: []TraceHop{}}
		relays, hops := p.Path(target.ID)
		if hops < 0 {
			return res
		}
		res.Reachable = true
		for i, node := range append(relays[:len(relays):len(relays)], target) {
			th := TraceHop{Hop: i + 1, ID: node.ID, Name: node.Name, NameVerified: node.NameVerified}
			if ctx.Err() != nil {
				th.Error = ctx.Err().Error()
			} else if rtt, err := ping(ctx, p, node.ID); err != nil {
				th.Error = err.Error()
			} else {
				th.RTTMillis = millis(rtt)
			}
			res.Hops = append(res.Hops, th)
		}
		return res
	})
}

// probe is what the ping and trace requests share: it checks the
// provider, takes one of the MaxPingRequests slots (429 when none is
// free), resolves the target and writes what run returns, run being
// bounded by the handler's ping timeout.
func (h *handler) probe(w http.ResponseWriter, r *http.Request, run func(ctx context.Context, p Pinger, target Hop) any) {
	w.Header().Set("Cache-Control", "no-store")
	if h.p == nil {
		writeError(w, http.StatusServiceUnavailable, ErrNoProvider)
		return
	}
	p, ok := h.p.(Pinger)
	if !ok {
		writeError(w, http.StatusNotImplemented, errors.New("status: this node does not answer pings"))
		return
	}
	target := r.URL.Query().Get("target")
	if target == "" {
		writeError(w, http.StatusBadRequest, errors.New("target is missing: want ?target= a node id, node name or service name"))
		return
	}
	select {
	case h.pings <- struct{}{}:
		defer func() { <-h.pings }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, fmt.Errorf("status: %d ping or trace requests are running already; try again later", MaxPingRequests))
		return
	}
	to, err := p.Resolve(target)
	if err != nil {
		code := http.StatusServiceUnavailable
		switch {
		case errors.Is(err, ErrNoSuchTarget):
			code = http.StatusNotFound
		case errors.Is(err, ErrAmbiguousTarget):
			code = http.StatusConflict
		case errors.Is(err, ErrBadTarget):
			code = http.StatusBadRequest
		}
		writeError(w, code, err)
		return
	}
	ctx := r.Context()
	if h.pingTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.pingTimeout)
		defer cancel()
	}
	writeJSON(w, http.StatusOK, run(ctx, p, to))
}

// ping is one probe, within ProbeTimeout.
func ping(ctx context.Context, p Pinger, id string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return p.Ping(ctx, id)
}

// sleep waits for d, and reports false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// millis is d in milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeJSON writes v as the indented JSON answer, with code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError writes err as the JSON answer {"error": "..."}, with code.
func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
