// Package prom exports the counters of plexus to Prometheus: those of a
// mesh node (mesh.Node's Stats and Links), of message sockets
// (socket.Stats) and of mux sessions (mux.Stats), as collectors for
// github.com/prometheus/client_golang, the only package of plexus that
// depends on it.
//
// A collector reads its source when it is scraped, and only then: it
// starts no goroutine and keeps no state of its own, so it costs nothing
// between scrapes. Metric names begin with plexus_mesh_, plexus_socket_
// and plexus_mux_, and follow Prometheus' conventions (base units,
// counters ending in _total); docs/metrics.md lists them all.
//
// Nothing here touches the default registry: register the collectors in
// a registry of your own, or let Handler make one.
//
//	n, _ := mesh.New(...)
//	h, err := prom.Handler(prom.NewNodeCollector(n), collectors.NewGoCollector())
//	if err != nil { ... }
//	http.Handle("/metrics", h)
package prom

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a new registry (not the default one) with cs
// registered. The error, from the registry, is that of the first collector
// that could not be registered (two collectors of one socket name, say); it
// wraps the registry's error, which errors.As finds (a
// prometheus.AlreadyRegisteredError, for instance).
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("prom: registering collector %d: %w", i, err)
		}
	}
	return reg, nil
}

// Handler returns an http.Handler that serves cs to Prometheus scrapes,
// in the text or protobuf formats as the scraper asks, from a registry of
// its own (see NewRegistry for the error). A collector that fails during a
// scrape makes the scrape fail with status 500, so that a partial answer
// is never taken for the whole.
func Handler(cs ...prometheus.Collector) (http.Handler, error) {
	reg, err := NewRegistry(cs...)
	if err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}), nil
}

// metric is one metric a collector exports: its description and how to
// read its value from a snapshot of type S.
type metric[S any] struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	get  func(*S) float64
}

// counter and gauge make the metric name with help, read by get.
func counter[S any](name, help string, labels prometheus.Labels, get func(*S) float64) metric[S] {
	return metric[S]{prometheus.NewDesc(name, help, nil, labels), prometheus.CounterValue, get}
}

func gauge[S any](name, help string, labels prometheus.Labels, get func(*S) float64) metric[S] {
	return metric[S]{prometheus.NewDesc(name, help, nil, labels), prometheus.GaugeValue, get}
}

// describe and collect do a collector's work for a table of metrics.
func describe[S any](ms []metric[S], ch chan<- *prometheus.Desc) {
	for _, m := range ms {
		ch <- m.desc
	}
}

func collect[S any](ms []metric[S], s *S, ch chan<- prometheus.Metric) {
	for _, m := range ms {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.get(s))
	}
}
