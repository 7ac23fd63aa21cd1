package main

import (
	"context"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// eventsEvery is how often a node with a status page takes a snapshot
// of itself for its list of events.
const eventsEvery = time.Second

// recordEvents starts recording the events of the status page: one
// goroutine takes a snapshot of p every eventsEvery and compares it with
// the one before (links up and down, nodes reachable or lost, services
// added and withdrawn, join errors), so that the list is full when a
// page opens. It returns the provider the status page serves, which
// takes its own snapshot per request as well and adds the events to it,
// (a status.Pinger too when p is one), and stop, which ends the goroutine and waits for it.
func recordEvents(ctx context.Context, p status.Provider) (status.Provider, func()) {
	rec := status.NewRecorder(status.DefaultEvents)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rec.Run(ctx, p, eventsEvery)
	}()
	stop := func() {
		cancel()
		<-done
	}
	if pinger, ok := p.(status.Pinger); ok {
		// The page's provider still answers pings and traces.
		return pingingProvider{rec.Provider(p), pinger}, stop
	}
	return rec.Provider(p), stop
}

// pingingProvider is a Provider that is also a Pinger.
type pingingProvider struct {
	status.Provider
	status.Pinger
}
