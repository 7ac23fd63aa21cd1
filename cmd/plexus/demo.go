package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// demo runs every section of the demo in turn.
func demo(ctx context.Context, w io.Writer) error {
	start := time.Now()
	sections := []struct {
		title string
		run   func(context.Context, io.Writer) error
	}{
		{"mux: many streams over one TCP connection", demoMux},
		{"socket: req/rep, pub/sub and a switch over TCP (the SP wire of NNG)", demoSocket},
		{"mesh: three nodes over TCP, services reached through a relay", demoMesh},
	}
	for _, s := range sections {
		fmt.Fprintf(w, "\n== %s ==\n", s.title)
		if err := s.run(ctx, w); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	fmt.Fprintf(w, "\ndemo finished in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// rate formats n events in d as a rate.
func rate(n float64, d time.Duration, unit string) string {
	r := n / d.Seconds()
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM %s/s", r/1e6, unit)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk %s/s", r/1e3, unit)
	}
	return fmt.Sprintf("%.0f %s/s", r, unit)
}
