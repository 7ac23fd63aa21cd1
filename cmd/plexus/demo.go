package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// demoCommand is `plexus demo`.
func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "a guided tour of plexus: streams, a secured mesh and message sockets, run in this process",
		help: `usage: plexus demo

A guided tour of plexus, run in this process over loopback TCP, layer by
layer; each numbered step says in one sentence what it shows and why it
matters, then prints what happened:

  streams   thousands of mux streams over one TCP connection, a bulk byte
            stream, message streams
  mesh      three nodes (alpha, relay, beta) with certificates of a CA made
            in memory: mutual TLS links, services found by name, a circuit
            through the relay with end-to-end TLS, HTTP by service name;
            a connection that outlives its relay: a second relay joins,
            the first one closes mid-stream, the same connection carries
            on through the second, no byte lost (resumable circuits)
  sockets   req/rep, pub/sub and a switch on the SP wire of NNG over tcp://,
            then req/rep and pub/sub over mesh://, through the relay

It ends with the commands to run a mesh of your own (README.md, "Run a
mesh"). It writes nothing to disk, takes a few seconds and moves a few
hundred MiB.
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

// tour prints the demo: layers, numbered steps and their indented results.
type tour struct {
	w    io.Writer
	step int
}

// layer starts a layer of the tour.
func (t *tour) layer(title string) { fmt.Fprintf(t.w, "\n== %s ==\n", title) }

// heading starts the next step: one sentence, what it shows and why it
// matters.
func (t *tour) heading(s string) {
	t.step++
	fmt.Fprintf(t.w, "\n%2d. %s\n", t.step, s)
}

// say prints a result line of the current step, indented.
func (t *tour) say(format string, args ...any) {
	fmt.Fprintf(t.w, "      "+format+"\n", args...)
}

// demoIntro is the first line of the tour.
const demoIntro = `plexus demo: a guided tour of plexus, run in this process over loopback TCP,
in three layers (streams, a secured mesh, message sockets); each step says
what it shows and why it matters, then what happened.`

// demoNext is the end of the tour: the commands to try next. The lines
// that are commands are copied from README.md, "Run a mesh" (a test
// checks it), and from docs/cli.md.
var demoNext = []string{
	`Next: run a mesh of your own with the plexus command on your PATH (in this clone:`,
	`go build -o bin/plexus ./cmd/plexus && export PATH="$PWD/bin:$PATH"; or go install;`,
	`README.md, "Run a mesh", says it all), in an empty directory:`,
	``,
	`  plexus cert ca --out mesh-ca && for n in relay web app; do plexus cert node --ca mesh-ca --name $n --out certs; done`,
	`  cp mesh-ca/ca.crt certs/`,
	`  plexus node --listen tcp://127.0.0.1:7000 --cert certs/relay.crt --key certs/relay.key --ca certs/ca.crt &`,
	`  mkdir -p site && echo '<h1>hello over the mesh</h1>' > site/index.html`,
	`  python3 -m http.server 8080 --bind 127.0.0.1 --directory site &`,
	`  plexus node --join 127.0.0.1:7000 --cert certs/web.crt --key certs/web.key --ca certs/ca.crt --relay=false \`,
	`      --http 127.0.0.1:7071 --expose web=127.0.0.1:8080 &`,
	`  plexus node --join 127.0.0.1:7000 --cert certs/app.crt --key certs/app.key --ca certs/ca.crt --relay=false \`,
	`      --http 127.0.0.1:7072 --forward 127.0.0.1:8081=web &`,
	``,
	`then:`,
	``,
	`  curl http://127.0.0.1:8081/     # site/index.html, from app to web through the relay, over mutual TLS`,
	`  plexus status                   # what the relay sees: its links, services, routes and relayed circuits`,
	`  plexus ping --node 127.0.0.1:7072 web    # the round trip from app to web, through the relay`,
	`  plexus trace --node 127.0.0.1:7072 web   # the path from app to web, hop by hop`,
	``,
	`Open http://127.0.0.1:7070/ in a browser: the relay's status page (plexus node --http,`,
	`127.0.0.1:7070 by default), live.`,
	``,
	`Then plexus cat (netcat over the mesh) and plexus sock (nngcat, with mesh:// URLs), short-lived`,
	`nodes with certificates of their own:`,
	``,
	`  for n in me you; do plexus cert node --ca mesh-ca --name $n --out certs; done`,
	`  printf 'GET / HTTP/1.0\r\n\r\n' | plexus cat --join 127.0.0.1:7000 --cert certs/me.crt --key certs/me.key --ca certs/ca.crt web`,
	`  plexus sock --pub0 --listen mesh://news --join 127.0.0.1:7000 --cert certs/me.crt --key certs/me.key --ca certs/ca.crt \`,
	`      --data 'weather/paris 21C' --interval 1 &`,
	`  plexus sock --sub0 --dial mesh://news --join 127.0.0.1:7000 --cert certs/you.crt --key certs/you.key --ca certs/ca.crt \`,
	`      --subscribe weather/ --quoted`,
	``,
	`Ctrl-C ends the subscriber; kill %1 %2 %3 %4 %5 (SIGTERM) stops the rest: the relay, the web`,
	`server, the two sidecars and the publisher. plexus help lists every command; docs/cli.md says`,
	`what each does.`,
}

// demo runs the tour.
func demo(ctx context.Context, w io.Writer) error {
	start := time.Now()
	t := &tour{w: w}
	fmt.Fprintln(w, demoIntro)

	t.layer("streams (package mux): many independent conversations over one TCP connection")
	if err := demoMux(ctx, t); err != nil {
		return fmt.Errorf("streams: %w", err)
	}

	t.layer("mesh (package mesh): nodes with certificates, services by name, relays")
	m, err := startMesh(ctx, t)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	defer m.close()
	if err := m.tour(ctx, t); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	if err := m.survive(ctx, t); err != nil {
		return fmt.Errorf("mesh, a relay dies: %w", err)
	}

	t.layer("message sockets (package socket): NNG's protocols and wire, over tcp:// and over the mesh")
	if err := demoSocket(ctx, t); err != nil {
		return fmt.Errorf("sockets: %w", err)
	}
	if err := m.sockets(ctx, t); err != nil {
		return fmt.Errorf("sockets over the mesh: %w", err)
	}
	m.close()

	fmt.Fprintf(w, "\ntour finished in %v: %d steps, everything closed.\n\n", time.Since(start).Round(time.Millisecond), t.step)
	fmt.Fprintln(w, strings.Join(demoNext, "\n"))
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

// plural returns "1 hop", "2 hops": n and the noun, in the plural unless
// n is 1 (nouns whose plural is not noun+"s" give it as many).
func plural(n int, noun string, many ...string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	if len(many) > 0 {
		return fmt.Sprintf("%d %s", n, many[0])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// id8 is the short form of a node id: its first 8 hex digits.
func id8(id uint64) string { return mesh.FormatID(id)[:8] }
