package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// demoCommand is `plexus demo`.
func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "run a small plexus network in this process and print what happens",
		help: `usage: plexus demo

Runs, in this process and over loopback TCP, what plexus does: thousands of
mux streams over one connection, req/rep, pub/sub and a switch over the SP
wire of NNG, and a three-node mesh whose services are reached through a
relay, by name, over HTTP and over mesh://. It prints what happens and how
fast; it takes a few seconds and moves a few hundred MiB.
`,
		setup: func() (*flagSet, runFunc) {
			fs := newFlagSet("demo")
			fs.logging()
			return fs, func(ctx context.Context, c *cli, fs *flagSet) error {
				if len(fs.args) > 0 {
					return &usageError{cmd: "demo", err: fmt.Errorf("unexpected argument %q", fs.args[0])}
				}
				fs.logger.Debug("demo: starting")
				return demo(ctx, c.stdout)
			}
		},
	}
}

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
