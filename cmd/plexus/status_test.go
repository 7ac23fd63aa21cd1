package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// TestStatusTables: plexus status and friends print a snapshot as
// aligned tables, byte for byte.
func TestStatusTables(t *testing.T) {
	now := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	st := &status.Status{
		Time: now,
		Node: status.Node{ID: "ac9cf68e5aeab6da", Name: "prod", Relay: true, Secure: true, CertPolicy: true,
			Started: now.Add(-90 * time.Minute), UptimeSeconds: 5400.4, Listen: []string{"tcp://0.0.0.0:7000"}},
		Links: []status.Link{{Peer: "5f0e2b7c9d1a3e48", Addr: "10.0.0.2:41872", Dialer: true, UpSince: now.Add(-time.Hour),
			RTTMillis: 0.42, BytesIn: 1 << 20, BytesOut: 1000, Streams: 3}},
		Routes: []status.Route{{Host: "5f0e2b7c9d1a3e48", NextHop: "5f0e2b7c9d1a3e48", Hops: 1},
			{Host: "c3d4e5f60718293a", NextHop: "5f0e2b7c9d1a3e48", Hops: 2}},
		Services: []status.Service{{Name: "echo", Host: "c3d4e5f60718293a", Port: 1, Hops: 2}},
		Circuits: []status.Circuit{{Source: "c3d4e5f60718293a", Dest: "0a1b2c3d4e5f6071", Prev: "5f0e2b7c9d1a3e48",
			Next: "1122334455667788", Since: now.Add(-2 * time.Minute), Bytes: 65536}},
	}
	srv := httptest.NewServer(status.Handler(status.ProviderFunc(func(context.Context) (*status.Status, error) { return st, nil })))
	defer srv.Close()

	want := map[string]string{
		"status": `node      ac9cf68e5aeab6da
mesh      prod
relay     yes
tls       yes
policy    certificate (a service only from a node whose certificate names it)
uptime    1h30m0s
listen    tcp://0.0.0.0:7000
links     1
routes    2
services  1
circuits  1

links:
PEER              ADDRESS         DIALED  RTT     IN       OUT     STREAMS  UP
5f0e2b7c9d1a3e48  10.0.0.2:41872  yes     0.42ms  1.0 MiB  1000 B  3        1h0m0s

routes:
HOST              NEXT HOP          HOPS
5f0e2b7c9d1a3e48  5f0e2b7c9d1a3e48  1
c3d4e5f60718293a  5f0e2b7c9d1a3e48  2

services:
NAME  HOST              PORT  HOPS
echo  c3d4e5f60718293a  1     2

relayed circuits:
SOURCE            DEST              PREV              NEXT              UP    BYTES
c3d4e5f60718293a  0a1b2c3d4e5f6071  5f0e2b7c9d1a3e48  1122334455667788  2m0s  64.0 KiB
`,
		"routes": `HOST              NEXT HOP          HOPS
5f0e2b7c9d1a3e48  5f0e2b7c9d1a3e48  1
c3d4e5f60718293a  5f0e2b7c9d1a3e48  2
`,
		"services": `NAME  HOST              PORT  HOPS
echo  c3d4e5f60718293a  1     2
`,
	}
	for cmd, w := range want {
		r := runIn(cmd, "--node", srv.URL)
		if r.code != 0 || r.stdout != w {
			t.Errorf("plexus %s: exit %d, stderr %q, got:\n%s\nwant:\n%s", cmd, r.code, r.stderr, r.stdout, w)
		}
	}
	r := runIn("links", "--node", strings.TrimPrefix(srv.URL, "http://"), "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"peer": "5f0e2b7c9d1a3e48"`) || !strings.HasPrefix(r.stdout, "[") {
		t.Errorf("plexus links --json: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runIn("status", "--node", srv.URL, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"cert_policy": true`) {
		t.Errorf("plexus status --json: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if got := policyText(status.Node{}); got != "none (any member may serve any name)" {
		t.Errorf("without certificate policy: %q", got)
	}
	// A node that answers with an error says so.
	bad := httptest.NewServer(status.Handler(nil))
	defer bad.Close()
	if r := runIn("status", "--node", bad.URL); r.code != 1 || !strings.Contains(r.stderr, "status: no provider") {
		t.Errorf("plexus status of a failing node: exit %d, %q", r.code, r.stderr)
	}
}

func TestBytesIEC(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB", 1<<64 - 1: "16.0 EiB"} {
		if got := bytesIEC(n); got != want {
			t.Errorf("bytesIEC(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestStatusJoinsSidecarsCert: plexus status prints the joins with their
// state (redialing: the next try and the error; refused: why), the
// sidecars with their connections and last error, and the certificate's
// expiry with a warning within 30 days.
func TestStatusJoinsSidecarsCert(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	st := &status.Status{
		Time: now,
		Node: status.Node{ID: "ac9cf68e5aeab6da", Name: "prod", Secure: true, CertNotAfter: at(28*24*time.Hour + time.Hour),
			Started: now.Add(-time.Minute), UptimeSeconds: 60},
		Joins: []status.Join{
			{Addr: "tcp://10.0.0.1:7000", State: "up", Peer: "5f0e2b7c9d1a3e48", Since: now.Add(-50 * time.Second)},
			{Addr: "tcp://10.0.0.2:7000", State: "redialing", Since: now.Add(-40 * time.Second),
				Error: "dial tcp 10.0.0.2:7000: connect: connection refused", ErrorTime: at(-time.Second), NextTry: at(3 * time.Second)},
			{Addr: "tcp://10.0.0.3:7000", State: "refused", Since: now.Add(-time.Minute),
				Error: `mesh: link refused: mesh name mismatch: node 1 is in mesh "dev"`, ErrorTime: at(-2 * time.Second), NextTry: at(20 * time.Second)},
			{Addr: "unix:///run/plexus.sock", State: "connecting", Since: now},
		},
		Sidecars: []status.Sidecar{
			{Kind: "expose", Spec: "web=127.0.0.1:8080", Listen: "web", Open: 2, Total: 17},
			{Kind: "forward", Spec: "127.0.0.1:9000=db", Listen: "127.0.0.1:9000", Total: 3,
				Error: "mesh: no such service", ErrorTime: at(-3 * time.Minute)},
		},
	}
	srv := httptest.NewServer(status.Handler(status.ProviderFunc(func(context.Context) (*status.Status, error) { return st, nil })))
	defer srv.Close()
	want := `node      ac9cf68e5aeab6da
mesh      prod
relay     no
tls       yes
policy    none (any member may serve any name)
cert      expires 2027-01-05 (in 28 days)  WARNING: renew it
uptime    1m0s
listen    -
links     0
routes    0
services  0
circuits  0

joins:
ADDRESS                  STATE       PEER              SINCE  DETAIL
tcp://10.0.0.1:7000      up          5f0e2b7c9d1a3e48  50s    -
tcp://10.0.0.2:7000      redialing   -                 40s    next try in 3s: dial tcp 10.0.0.2:7000: connect: connection refused
tcp://10.0.0.3:7000      refused     -                 1m0s   mesh: link refused: mesh name mismatch: node 1 is in mesh "dev"
unix:///run/plexus.sock  connecting  -                 0s     -

sidecars:
KIND     SPEC                LISTEN          OPEN  TOTAL  LAST ERROR
expose   web=127.0.0.1:8080  web             2     17     -
forward  127.0.0.1:9000=db   127.0.0.1:9000  0     3      3m0s ago: mesh: no such service
`
	if r := runIn("status", "--node", srv.URL); r.code != 0 || r.stdout != want {
		t.Errorf("plexus status: exit %d, stderr %q, got:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
}

func TestCertText(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{400 * 24 * time.Hour, "expires 2028-01-12 (in 400 days)"},
		{30 * 24 * time.Hour, "expires 2027-01-07 (in 30 days)"},
		{30*24*time.Hour - time.Minute, "expires 2027-01-07 (in 29 days)  WARNING: renew it"},
		{36 * time.Hour, "expires 2026-12-10 (in 1 day)  WARNING: renew it"},
		{90 * time.Minute, "expires 2026-12-08 (in 1h30m0s)  WARNING: renew it"},
		{0, "EXPIRED 2026-12-08 (0s ago): the node can no longer link"},
		{-7 * 24 * time.Hour, "EXPIRED 2026-12-01 (7 days ago): the node can no longer link"},
	} {
		if got := certText(now, now.Add(tc.in)); got != tc.want {
			t.Errorf("certText(now+%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for d, want := range map[time.Duration]string{-time.Second: "trying now", 400 * time.Millisecond: "next try in 400ms", 2600 * time.Millisecond: "next try in 3s"} {
		if got := nextTry(now, now.Add(d)); got != want {
			t.Errorf("nextTry(now+%v) = %q, want %q", d, got, want)
		}
	}
}

// TestStatusTablesNames: nodes with names are shown as "name (id8)",
// those without by their id; on an insecure node, whose names no
// certificate vouches for, each name is marked and a footnote says so;
// the tables stay aligned.
func TestStatusTablesNames(t *testing.T) {
	now := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	st := &status.Status{
		Time:  now,
		Node:  status.Node{ID: "ac9cf68e5aeab6da", Name: "prod", NodeName: "gw", Started: now.Add(-time.Minute), UptimeSeconds: 60},
		Links: []status.Link{{Peer: "5f0e2b7c9d1a3e48", PeerName: "relay-eu-1", Addr: "10.0.0.2:41872", UpSince: now.Add(-time.Minute)}},
		Routes: []status.Route{{Host: "5f0e2b7c9d1a3e48", HostName: "relay-eu-1", NextHop: "5f0e2b7c9d1a3e48", NextHopName: "relay-eu-1", Hops: 1},
			{Host: "c3d4e5f60718293a", NextHop: "5f0e2b7c9d1a3e48", NextHopName: "relay-eu-1", Hops: 2}},
		Services: []status.Service{{Name: "echo", Host: "c3d4e5f60718293a", Port: 1, Hops: 2},
			{Name: "web", Host: "5f0e2b7c9d1a3e48", HostName: "relay-eu-1", Port: 80, Hops: 1}},
		Graph: status.Graph{Nodes: []status.GraphNode{{ID: "ac9cf68e5aeab6da", Name: "gw"}, {ID: "5f0e2b7c9d1a3e48", Name: "relay-eu-1"}, {ID: "c3d4e5f60718293a"}}},
	}
	var b strings.Builder
	printStatus(&b, st)
	want := `node      gw* (ac9cf68e)
id        ac9cf68e5aeab6da
mesh      prod
relay     no
tls       no
policy    none (any member may serve any name)
uptime    1m0s
listen    -
links     1
routes    2
services  2
circuits  0

links:
PEER                    ADDRESS         DIALED  RTT  IN   OUT  STREAMS  UP
relay-eu-1* (5f0e2b7c)  10.0.0.2:41872  no      -    0 B  0 B  0        1m0s

routes:
HOST                    NEXT HOP                HOPS
relay-eu-1* (5f0e2b7c)  relay-eu-1* (5f0e2b7c)  1
c3d4e5f60718293a        relay-eu-1* (5f0e2b7c)  2

services:
NAME  HOST                    PORT  HOPS
echo  c3d4e5f60718293a        1     2
web   relay-eu-1* (5f0e2b7c)  80    1

* name not verified by a certificate
`
	if b.String() != want {
		t.Errorf("status, insecure:\n%s\nwant:\n%s", b.String(), want)
	}

	// On a secured node the names are its certificates': no mark.
	st.Node.Secure, st.Node.NameVerified = true, true
	for i := range st.Graph.Nodes {
		st.Graph.Nodes[i].NameVerified = true
	}
	b.Reset()
	printRoutes(&b, st)
	want = `HOST                   NEXT HOP               HOPS
relay-eu-1 (5f0e2b7c)  relay-eu-1 (5f0e2b7c)  1
c3d4e5f60718293a       relay-eu-1 (5f0e2b7c)  2
`
	if b.String() != want {
		t.Errorf("routes, secured:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestStatusDirectColumn: a DIRECT column shows which links are the
// direct upgrade of a relayed pair, when one is; without one, the table
// is as it was.
func TestStatusDirectColumn(t *testing.T) {
	now := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	st := &status.Status{
		Time: now,
		Links: []status.Link{
			{Peer: "5f0e2b7c9d1a3e48", Addr: "10.0.0.2:7000", Dialer: true, UpSince: now.Add(-time.Hour)},
			{Peer: "c3d4e5f60718293a", Addr: "203.0.113.7:7000", Dialer: true, Direct: true, UpSince: now.Add(-time.Minute)},
		},
	}
	var b strings.Builder
	printLinks(&b, st)
	want := `PEER              ADDRESS           DIALED  DIRECT  RTT  IN   OUT  STREAMS  UP
5f0e2b7c9d1a3e48  10.0.0.2:7000     yes     no      -    0 B  0 B  0        1h0m0s
c3d4e5f60718293a  203.0.113.7:7000  yes     yes     -    0 B  0 B  0        1m0s
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	st.Links[1].Direct = false
	b.Reset()
	printLinks(&b, st)
	if strings.Contains(b.String(), "DIRECT") {
		t.Errorf("no direct link, and a DIRECT column:\n%s", b.String())
	}
}
