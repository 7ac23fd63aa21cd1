package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// plexus ping and plexus trace: a running node measures round trips
// through the mesh (its API's /api/v1/ping and /api/v1/trace), and these
// commands print them. The node resolves the target and does the pinging;
// ping asks for one probe per request, so that each line appears as its
// probe comes back.

// pingHTTPTimeout bounds one request of plexus ping: a probe, which may
// set up a circuit first, takes at most status.ProbeTimeout.
const pingHTTPTimeout = status.ProbeTimeout + 10*time.Second

// traceHTTPTimeout bounds the request of plexus trace: the node bounds a
// trace by its ping timeout (30s).
const traceHTTPTimeout = 40 * time.Second

// maxPingCount bounds --count.
const maxPingCount = 1_000_000

// pingOptions are the flags of plexus ping and plexus trace.
type pingOptions struct {
	cmd      *command
	node     string
	count    int
	interval time.Duration
	json     bool
}

// pingCommand is `plexus ping`.
func pingCommand() *command {
	cmd := &command{
		name:    "ping",
		summary: "measure the round trip from a running node to another, through the mesh",
		help: fmt.Sprintf(`usage: plexus ping [--node URL] [--count N] [--interval D] [--json] TARGET

Asks a running 'plexus node' (its --http address, default %s) to ping
TARGET through the mesh, and prints each round trip as ping(8) does,
then a summary. TARGET is a node id (16 hex digits), else a node name,
else a service name, as the node resolves it; a name of several nodes is
an error that lists them.

The round trip is a ping of the session that reaches TARGET: the link to
a neighbour, or the end-to-end session of the circuit to a far host (set
up first if there is none, as a connection would), so it measures the
relays on the way and both hosts' mux layers, not an application. The
header says which path the probes take.

  PING web (0a1b2c3d) via relay (77aa0011), 2 hops
  seq 1: rtt 1.23 ms
  ...
  --- web (0a1b2c3d): 4 sent, 4 received, 0%% loss
  rtt min/avg/max 0.98/1.10/1.23 ms

The exit status is 0 when any probe was answered (the summary says
whether all were), 1 when none was or the node could not ping, 2 on a
usage error. Interrupting it prints the summary of the probes so far.

--json asks the node for all the probes in one request (--count at most
%d, within 30s) and prints its answer as JSON.
`, defaultNodeURL, status.MaxPingCount),
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &pingOptions{cmd: cmd, node: defaultNodeURL, count: 4, interval: time.Second}
		fs := newFlagSet("ping")
		fs.stringFlag(&o.node, "URL", "the node's --http address (http://HOST:PORT, or HOST:PORT)", "node")
		fs.varFlag(intValue{&o.count, maxPingCount}, "N", "4", "send N probes (0: until interrupted)", "count", "c")
		fs.varFlag(durationValue{&o.interval, nil}, "D", "1s", "wait D between probes", "interval", "i")
		fs.boolFlag(&o.json, "print the node's answer as JSON", "json")
		fs.logging()
		return fs, o.runPing
	}
	return cmd
}

// traceCommand is `plexus trace`.
func traceCommand() *command {
	cmd := &command{
		name:    "trace",
		summary: "print the path from a running node to another, hop by hop, with round trips",
		help: fmt.Sprintf(`usage: plexus trace [--node URL] [--json] TARGET

Asks a running 'plexus node' (its --http address, default %s) for the
path to TARGET (a node id, node name or service name, as for plexus
ping): the relays a circuit to it takes, in order, then TARGET, one line
per hop with its name, id and round trip:

  1  relay (77aa0011)  0.41 ms
  2  web (0a1b2c3d)    1.20 ms

The path is that of the circuit in use to TARGET, else the one a new
circuit would take. Each hop's round trip is measured by a probe of its
own, as plexus ping measures it: over the link to a neighbour, over a
circuit to that relay for the others; so it is the round trip to that
hop, not a part of the round trip to TARGET.

The exit status is 0 when TARGET answered, 1 when it did not or no
route reaches it, 2 on a usage error.
`, defaultNodeURL),
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &pingOptions{cmd: cmd, node: defaultNodeURL}
		fs := newFlagSet("trace")
		fs.stringFlag(&o.node, "URL", "the node's --http address (http://HOST:PORT, or HOST:PORT)", "node")
		fs.boolFlag(&o.json, "print the node's answer as JSON", "json")
		fs.logging()
		return fs, o.runTrace
	}
	return cmd
}

// target checks the command line: one TARGET and a valid --node.
func (o *pingOptions) target(fs *flagSet) (string, error) {
	switch {
	case len(fs.args) == 0:
		return "", usagef(o.cmd, "TARGET is missing: a node id, node name or service name")
	case len(fs.args) > 1:
		return "", usagef(o.cmd, "unexpected argument %q", fs.args[1])
	}
	if _, err := apiURL(o.node); err != nil {
		return "", usagef(o.cmd, "%v", err)
	}
	return fs.args[0], nil
}

func (o *pingOptions) runPing(ctx context.Context, c *cli, fs *flagSet) error {
	target, err := o.target(fs)
	if err != nil {
		return err
	}
	if o.json {
		if o.count < 1 || o.count > status.MaxPingCount {
			return usagef(o.cmd, "--count %d: with --json, 1 to %d", o.count, status.MaxPingCount)
		}
		var res status.PingResult
		q := url.Values{"target": {target}, "count": {strconv.Itoa(o.count)}, "interval": {o.interval.String()}}
		if err := getAPI(ctx, o.node, status.PingPath, q, traceHTTPTimeout, &res); err != nil {
			return err
		}
		return printJSON(c.stdout, res)
	}
	var (
		header   string // the path line printed last
		name     string
		sent     int
		received int
		sum      float64
		lo, hi   float64
	)
	q := url.Values{"target": {target}}
probes:
	for seq := 1; o.count == 0 || seq <= o.count; seq++ {
		if seq > 1 && !sleepCtx(ctx, o.interval) {
			break
		}
		var res status.PingResult
		if err := getAPI(ctx, o.node, status.PingPath, q, pingHTTPTimeout, &res); err != nil {
			switch {
			case sent == 0:
				return err // the first request says whether the node can ping the target
			case ctx.Err() != nil:
				break probes // interrupted: the summary of what was done
			}
			sent++
			fmt.Fprintf(c.stdout, "seq %d: no answer: %v\n", seq, err)
			continue
		}
		name = hopLabel(res.Target)
		if h := pathLine(res); h != header {
			if header == "" {
				fmt.Fprintf(c.stdout, "PING %s\n", h)
			} else {
				fmt.Fprintf(c.stdout, "path changed: %s\n", h)
			}
			header = h
		}
		for _, p := range res.Probes {
			sent++
			if p.Error != "" {
				fmt.Fprintf(c.stdout, "seq %d: no answer: %s\n", seq, p.Error)
				continue
			}
			fmt.Fprintf(c.stdout, "seq %d: rtt %.2f ms\n", seq, p.RTTMillis)
			if received == 0 || p.RTTMillis < lo {
				lo = p.RTTMillis
			}
			hi = max(hi, p.RTTMillis)
			sum += p.RTTMillis
			received++
		}
	}
	if sent == 0 {
		return ctx.Err()
	}
	fmt.Fprintf(c.stdout, "--- %s: %d sent, %d received, %.0f%% loss\n", name, sent, received, 100*float64(sent-received)/float64(sent))
	if received > 0 {
		fmt.Fprintf(c.stdout, "rtt min/avg/max %.2f/%.2f/%.2f ms\n", lo, sum/float64(received), hi)
	}
	switch {
	case received == 0:
		return fmt.Errorf("no answer from %s", name)
	case received < sent:
		fmt.Fprintf(c.stdout, "%d of %d probes answered\n", received, sent)
	default:
		fmt.Fprintln(c.stdout, "all probes answered")
	}
	return nil
}

// pathLine is the header of plexus ping: the target and the path.
func pathLine(res status.PingResult) string {
	t := hopLabel(res.Target)
	switch {
	case res.Hops < 0:
		return t + ": no route"
	case res.Hops == 0:
		return t + ": this node"
	case res.Hops == 1:
		return t + ", a neighbour, 1 hop"
	}
	via := make([]string, len(res.Path))
	for i, h := range res.Path {
		via[i] = hopLabel(h)
	}
	return fmt.Sprintf("%s via %s, %d hops", t, strings.Join(via, ", "), res.Hops)
}

func (o *pingOptions) runTrace(ctx context.Context, c *cli, fs *flagSet) error {
	target, err := o.target(fs)
	if err != nil {
		return err
	}
	var res status.TraceResult
	if err := getAPI(ctx, o.node, status.TracePath, url.Values{"target": {target}}, traceHTTPTimeout, &res); err != nil {
		return err
	}
	if o.json {
		return printJSON(c.stdout, res)
	}
	if !res.Reachable || len(res.Hops) == 0 {
		return fmt.Errorf("no route to %s", hopLabel(res.Target))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
	for _, h := range res.Hops {
		rtt := fmt.Sprintf("%.2f ms", h.RTTMillis)
		if h.Error != "" {
			rtt = "no answer: " + h.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", h.Hop, hopLabel(status.Hop{ID: h.ID, Name: h.Name, NameVerified: h.NameVerified}), rtt)
	}
	tw.Flush()
	if last := res.Hops[len(res.Hops)-1]; last.Error != "" {
		return fmt.Errorf("no answer from %s", hopLabel(res.Target))
	}
	return nil
}

// hopLabel shows a node of a ping or trace answer as the tables do:
// nodeLabel, the name marked when no certificate vouches for it.
func hopLabel(h status.Hop) string {
	if h.Name != "" && !h.NameVerified {
		return nodeLabel(h.ID, h.Name+unverifiedMark)
	}
	return nodeLabel(h.ID, h.Name)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// sleepCtx waits for d, and reports false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
