package status

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

//go:embed page
var pageFS embed.FS

// ErrNoProvider is Handler's answer when its provider is nil.
var ErrNoProvider = errors.New("status: no provider")

// setSecurityHeaders sets the headers of every answer: the page loads
// nothing but its own files and may not be framed.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// Option configures Handler.
type Option func(*handler)

// WithLogger makes Handler log the provider's errors to l.
func WithLogger(l *slog.Logger) Option { return func(h *handler) { h.log = l } }

// WithTimeout bounds each call of the provider (default 5s).
func WithTimeout(d time.Duration) Option { return func(h *handler) { h.timeout = d } }

// WithPingTimeout bounds each ping or trace request (default 30s).
func WithPingTimeout(d time.Duration) Option { return func(h *handler) { h.pingTimeout = d } }

type handler struct {
	p       Provider
	log     *slog.Logger
	timeout time.Duration
	mux     *http.ServeMux

	pingTimeout time.Duration
	pings       chan struct{} // one per ping or trace request running (MaxPingRequests)
}

// Handler returns the handler of the status page and its API, reading
// the snapshots from p. It answers GET and HEAD only.
func Handler(p Provider, opts ...Option) http.Handler {
	h := &handler{p: p, timeout: 5 * time.Second, pingTimeout: 30 * time.Second, pings: make(chan struct{}, MaxPingRequests)}
	for _, o := range opts {
		o(h)
	}
	static, err := fs.Sub(pageFS, "page")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET "+APIPath, h.serveStatus)
	h.mux.HandleFunc("GET "+PingPath, h.servePing)
	h.mux.HandleFunc("GET "+TracePath, h.serveTrace)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the status page is read-only", http.StatusMethodNotAllowed)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// serveStatus answers GET /api/v1/status.
func (h *handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	st, err := h.snapshot(r)
	if err != nil {
		if h.log != nil {
			h.log.Warn("status: provider failed", "err", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

// snapshot asks the provider and fills what it left out: the time, and
// empty lists for nil ones, so that readers never see null.
func (h *handler) snapshot(r *http.Request) (*Status, error) {
	if h.p == nil {
		return nil, ErrNoProvider
	}
	ctx := r.Context()
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	st, err := h.p.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errors.New("status: the provider gave no status")
	}
	out := *st
	if out.Time.IsZero() {
		out.Time = time.Now()
	}
	out.Links = orEmpty(out.Links)
	out.Routes = orEmpty(out.Routes)
	out.Services = orEmpty(out.Services)
	out.Circuits = orEmpty(out.Circuits)
	out.Relayed = orEmpty(out.Relayed)
	out.Graph.Nodes = orEmpty(out.Graph.Nodes)
	out.Graph.Links = orEmpty(out.Graph.Links)
	out.Node.Listen = orEmpty(out.Node.Listen)
	out.Joins = orEmpty(out.Joins)
	out.Sidecars = orEmpty(out.Sidecars)
	out.Events = orEmpty(out.Events)
	return &out, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
