package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"go.uber.org/goleak"
)

// logged waits until the process has logged (--log-format json) a record
// whose message starts with msg, and returns the record.
func (p *proc) logged(t *testing.T, msg string) map[string]any {
	t.Helper()
	var rec map[string]any
	testutil.WaitFor(t, fmt.Sprintf("%s to log %q", p.name, msg), func() error {
		sc := bufio.NewScanner(strings.NewReader(p.errOut()))
		for sc.Scan() {
			rec = nil
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			if m, _ := rec["msg"].(string); strings.HasPrefix(m, msg) {
				return nil
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before logging %q: %s", p.name, msg, p.errOut())
		default:
		}
		return fmt.Errorf("not logged yet: %s", p.errOut())
	})
	return rec
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

// meshNode is a plexus node process.
type meshNode struct {
	*proc
	id   string // its node id
	link string // HOST:PORT it accepts links on ("" when it does not listen)
	api  string // its status page, http://HOST:PORT
}

// startNode runs plexus node with args, logging JSON and serving its
// status page on a port of its choosing, and waits until it runs.
func startNode(t *testing.T, args ...string) *meshNode {
	t.Helper()
	p := startPlexus(t, append([]string{"node", "--log-format", "json", "--http", "127.0.0.1:0"}, args...)...)
	n := &meshNode{proc: p}
	n.id, _ = p.logged(t, "node started")["id"].(string)
	url, _ := p.logged(t, "status page")["url"].(string)
	n.api = strings.TrimSuffix(url, "/")
	for _, a := range args {
		if a == "--listen" {
			addr, _ := p.logged(t, "accepting links")["addr"].(string)
			n.link = strings.TrimPrefix(addr, "tcp://")
			break
		}
	}
	return n
}

// stop sends SIGTERM and checks that the node exits 0 after a clean
// stop.
func (n *meshNode) stop(t *testing.T) {
	t.Helper()
	n.signal(t, syscall.SIGTERM)
	if code, _ := n.wait(t); code != 0 {
		t.Errorf("node %s exited %d on SIGTERM: %s", n.id, code, n.errOut())
	}
	if !strings.Contains(n.errOut(), `"msg":"stopped"`) {
		t.Errorf("node %s did not log its stop: %s", n.id, n.errOut())
	}
}

// waitStatus polls the node's API until cond holds of its snapshot.
func (n *meshNode) waitStatus(t *testing.T, what string, cond func(*status.Status) bool) *status.Status {
	t.Helper()
	var st *status.Status
	testutil.WaitFor(t, "node "+n.id+": "+what, func() (err error) {
		if st, err = fetchStatus(context.Background(), n.api, testutil.Patience); err != nil {
			return err
		}
		if !cond(st) {
			return fmt.Errorf("not yet: %+v", st)
		}
		return nil
	})
	return st
}

// hasService reports whether st lists service name on host at hops.
func hasService(st *status.Status, name, host string, hops int) bool {
	for _, s := range st.Services {
		if s.Name == name && s.Host == host && s.Hops == hops {
			return true
		}
	}
	return false
}

// echoServer is a TCP echo server: it echoes each connection until its
// client half-closes, then half-closes too.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// meshCerts makes a CA and the certificates of the named nodes with
// plexus cert, and returns the TLS flags of each node.
func meshCerts(t *testing.T, names ...string) map[string][]string {
	t.Helper()
	nodes := make(map[string][]string, len(names))
	for _, name := range names {
		nodes[name] = nil
	}
	return certsWith(t, nodes)
}

// meshChain is three nodes in a chain over loopback TCP, secured by
// TLS: a - b - c, b a relay that a and c join; a exposes a local echo
// server as service echo, and c forwards a local port to it.
type meshChain struct {
	a, b, c *meshNode
	tls     map[string][]string // the TLS flags of a, b, c and of the short-lived members m1 to m4
	forward string              // c's forwarding port, HOST:PORT
}

// startChain starts a meshChain and waits until c sees echo.
func startChain(t *testing.T) *meshChain {
	t.Helper()
	echo := echoServer(t)
	m := &meshChain{tls: meshCerts(t, "a", "b", "c", "m1", "m2", "m3", "m4")}
	m.b = startNode(t, append([]string{"--listen", "tcp://127.0.0.1:0", "--name", "test"}, m.tls["b"]...)...)
	m.a = startNode(t, append([]string{"--join", m.b.link, "--name", "test", "--relay=false", "--expose", "echo=" + echo}, m.tls["a"]...)...)
	m.c = startNode(t, append([]string{"--join", m.b.link, "--name", "test", "--relay=false", "--forward", "127.0.0.1:0=echo"}, m.tls["c"]...)...)
	m.forward, _ = m.c.logged(t, "sidecar: forwarding")["addr"].(string)
	m.c.waitStatus(t, "service echo two hops away", func(st *status.Status) bool { return hasService(st, "echo", m.a.id, 2) })
	return m
}

// member returns the flags that make a short-lived member of the chain's
// mesh (plexus cat, sock) that joins b, with the certificate of name:
// members that run at the same time need ids of their own.
func (m *meshChain) member(name string) []string {
	return append([]string{"--join", m.b.link, "--name", "test"}, m.tls[name]...)
}

// TestNodeChain runs three plexus nodes in a chain over loopback TCP,
// with TLS from plexus cert, and uses them as a user would: a plain TCP
// client reaches an echo server through two sidecars two hops apart,
// plexus status, links, routes and services read the nodes, plexus cat
// dials and listens, plexus sock talks to itself over mesh://, SIGHUP
// reloads the certificates, and every node exits 0 on SIGTERM.
func TestNodeChain(t *testing.T) {
	m := startChain(t)

	t.Run("sidecars", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", m.forward, testutil.Patience)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(testutil.Patience))
		want := bytes.Repeat([]byte("through two sidecars and a relay\n"), 8192) // 264 KiB
		errc := make(chan error, 1)
		go func() {
			_, err := conn.Write(want)
			if err == nil {
				err = conn.(*net.TCPConn).CloseWrite() // the half-close must cross the mesh both ways
			}
			errc <- err
		}()
		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("reading the echo: %v (%d bytes)", err, len(got))
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("echo: got %d bytes, want %d", len(got), len(want))
		}
		// b relayed the circuit between c and a, and counted the echo
		// both ways.
		m.b.waitStatus(t, "the relayed circuit", func(st *status.Status) bool {
			for _, c := range st.Circuits {
				if c.Source == m.c.id && c.Dest == m.a.id && c.Prev == m.c.id && c.Next == m.a.id && c.Bytes >= uint64(2*len(want)) {
					return true
				}
			}
			return false
		})
	})

	t.Run("status", func(t *testing.T) {
		// The nodes are named by their certificates: a, b and c.
		a, b, c := "a ("+m.a.id[:8]+")", "b ("+m.b.id[:8]+")", "c ("+m.c.id[:8]+")"
		r := plexus(t, "", "status", "--node", m.b.api)
		for _, want := range []string{"node      " + b, "id        " + m.b.id, "mesh      test", "relay     yes", "tls       yes", "links     2", "routes    2",
			"PEER  ", a + "  127.0.0.1:", "echo  " + a, "relayed circuits:", c + "  " + a} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("plexus status: exit %d, no %q in:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
		r = plexus(t, "", "links", "--node", strings.TrimPrefix(m.c.api, "http://"))
		if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 2 ||
			!strings.HasPrefix(lines[0], "PEER          ADDRESS") || !strings.HasPrefix(lines[1], b+"  "+m.b.link+"  yes") {
			t.Errorf("plexus links: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = plexus(t, "", "routes", "--node", m.c.api)
		want := fmt.Sprintf("HOST          NEXT HOP      HOPS\n%s  %s  1\n%s  %s  2\n", b, b, a, b)
		if r.code != 0 || r.stdout != want {
			t.Errorf("plexus routes: exit %d:\n%s%s\nwant:\n%s", r.code, r.stdout, r.stderr, want)
		}
		r = plexus(t, "", "services", "--node", m.c.api)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "NAME  HOST          PORT   HOPS\necho  "+a+"  ") || !strings.HasSuffix(r.stdout, "  2\n") {
			t.Errorf("plexus services: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = plexus(t, "", "services", "--node", m.c.api, "--json")
		var services []status.Service
		if err := json.Unmarshal([]byte(r.stdout), &services); err != nil || len(services) != 1 || services[0].Name != "echo" || services[0].Host != m.a.id || services[0].HostName != "a" {
			t.Errorf("plexus services --json: exit %d, %v:\n%s", r.code, err, r.stdout)
		}
		r = plexus(t, "", "status", "--node", m.a.api, "--json")
		var st status.Status
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Node.ID != m.a.id || len(st.Graph.Nodes) != 3 || len(st.Graph.Links) != 2 {
			t.Errorf("plexus status --json: exit %d, %v:\n%s", r.code, err, r.stdout)
		}
		// c's join to b is up, its forward has carried a connection, its
		// certificate's expiry is known.
		m.c.waitStatus(t, "the forwarded connection closed", func(st *status.Status) bool {
			return len(st.Sidecars) == 1 && st.Sidecars[0].Total == 1 && st.Sidecars[0].Open == 0
		})
		r = plexus(t, "", "status", "--node", m.c.api)
		for _, want := range []string{"cert      expires ", "joins:\nADDRESS", "tcp://" + m.b.link + "  up     b (" + m.b.id[:8] + ")",
			"sidecars:\nKIND", "forward  127.0.0.1:0=echo  " + m.forward + "  0     1      -"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("plexus status of c: exit %d, no %q in:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(m.b.api + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `plexus_mesh_links{node="` + m.b.id + `"} 2`
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics: %s, %v; no %q in:\n%.2000s", resp.Status, err, want, body)
		}
	})

	t.Run("cat", func(t *testing.T) {
		// Dial: the echo service behind a's sidecar.
		r := plexus(t, "marco\npolo\n", append(append([]string{"cat"}, m.member("m1")...), "echo")...)
		if r.code != 0 || r.stdout != "marco\npolo\n" || r.stderr != "" {
			t.Errorf("plexus cat echo: exit %d, stdout %q, stderr %q; want 0, the lines and nothing on stderr", r.code, r.stdout, r.stderr)
		}
		// Listen: one connection, each side sending and half-closing.
		l := startStdin(t, strings.NewReader("from the listener\n"), plexusBin(t),
			append([]string{"cat", "--log-format", "json", "--log-level", "info", "--listen", "greet"}, m.member("m1")...)...)
		l.logged(t, "listening")
		r = plexus(t, "from the dialer\n", append(append([]string{"cat"}, m.member("m2")...), "greet")...)
		if r.code != 0 || r.stdout != "from the listener\n" {
			t.Errorf("plexus cat greet: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
		}
		if code, out := l.wait(t); code != 0 || out != "from the dialer\n" {
			t.Errorf("plexus cat --listen greet: exit %d, stdout %q, stderr %s", code, out, l.errOut())
		}
	})

	t.Run("sock", func(t *testing.T) {
		rep := startPlexus(t, append([]string{"sock", "--rep0", "--listen", "mesh://rpc", "--data", "pong", "-Q", "--count", "1", "--log-format", "json", "--log-level", "info"}, m.member("m3")...)...)
		rep.logged(t, "joining")
		r := plexus(t, "", append([]string{"sock", "--req0", "--dial", "mesh://rpc", "--data", "ping", "-Q"}, m.member("m4")...)...)
		if r.code != 0 || r.stdout != "\"pong\"\n" || r.stderr != "" {
			t.Errorf("plexus sock --req0 mesh://rpc: exit %d, stdout %q, stderr %q; want 0, the reply and nothing on stderr", r.code, r.stdout, r.stderr)
		}
		if code, out := rep.wait(t); code != 0 || out != "\"ping\"\n" {
			t.Errorf("plexus sock --rep0 mesh://rpc: exit %d, stdout %q, stderr %s", code, out, rep.errOut())
		}
	})

	t.Run("sighup", func(t *testing.T) {
		m.b.signal(t, syscall.SIGHUP)
		rec := m.b.logged(t, "SIGHUP")
		if msg := rec["msg"]; msg != "SIGHUP: certificate reloaded" {
			t.Errorf("SIGHUP: %v", rec)
		}
		m.b.waitStatus(t, "b after SIGHUP", func(st *status.Status) bool { return len(st.Links) == 2 })

		// A broken certificate file is refused, and the node goes on
		// with the certificate it has.
		crt := m.tls["b"][1]
		good, err := os.ReadFile(crt)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crt, []byte("not a certificate"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(crt, good, 0o644)
		m.b.signal(t, syscall.SIGHUP)
		m.b.logged(t, "SIGHUP: certificate files not reloaded")
		m.b.waitStatus(t, "b after a bad SIGHUP", func(st *status.Status) bool { return len(st.Links) == 2 })
	})

	t.Run("drain", func(t *testing.T) {
		// A connection through the sidecars that is open when c gets
		// SIGTERM goes on to its end; then c exits 0.
		conn, err := net.DialTimeout("tcp", m.forward, testutil.Patience)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(testutil.Patience))
		first := []byte("before SIGTERM\n")
		if _, err := conn.Write(first); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(first))
		if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, first) {
			t.Fatalf("echo before SIGTERM: %q, %v", got, err)
		}
		m.c.signal(t, syscall.SIGTERM)
		m.c.logged(t, "stopping: draining connections")
		last := []byte("after SIGTERM\n")
		if _, err := conn.Write(last); err != nil {
			t.Fatal(err)
		}
		conn.(*net.TCPConn).CloseWrite()
		rest, err := io.ReadAll(conn)
		if err != nil || !bytes.Equal(rest, last) {
			t.Fatalf("echo after SIGTERM: %q, %v", rest, err)
		}
		if code, _ := m.c.wait(t); code != 0 {
			t.Errorf("c exited %d: %s", code, m.c.errOut())
		}
		if strings.Contains(m.c.errOut(), "drain time over") {
			t.Errorf("c cut the connection: %s", m.c.errOut())
		}
	})

	for _, n := range []*meshNode{m.a, m.b} {
		n.stop(t)
	}
}

// TestNodeJoinsLater: a node whose --join peer is not up yet keeps
// redialing, and links once the peer listens.
func TestNodeJoinsLater(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nobody listens on, for now
	early := startNode(t, "--insecure", "--join", addr)
	early.logged(t, "mesh: join:") // the first dial failed: it redials
	late := startNode(t, "--insecure", "--listen", "tcp://"+addr)
	early.waitStatus(t, "the link to the late node", func(st *status.Status) bool {
		return len(st.Links) == 1 && st.Links[0].Peer == late.id && st.Links[0].Dialer
	})
	early.stop(t)
	late.stop(t)
	// An insecure node says so once (the command and the library each
	// said it).
	if got := strings.Count(early.errOut(), "without TLS"); got != 1 {
		t.Errorf("an --insecure node warned %d times: %s", got, early.errOut())
	}
}

// TestNodeErrors: a bad command line is refused with a clear message and
// status 2, a node that cannot start fails with status 1.
func TestNodeErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node"}, "no TLS: give --cert, --key and --ca"},
		{[]string{"node", "--insecure", "--expose", "echo"}, `--expose "echo": want NAME=HOST:PORT`},
		{[]string{"node", "--insecure", "--expose", "echo=localhost"}, `"localhost" is not HOST:PORT`},
		{[]string{"node", "--insecure", "--forward", "127.0.0.1:80"}, `want HOST:PORT=NAME`},
		{[]string{"node", "--insecure", "--join", "nowhere"}, `--join "nowhere": want HOST:PORT`},
		{[]string{"node", "--insecure", "--listen", "udp://127.0.0.1:1"}, "links run over tcp:// only"},
		{[]string{"node", "--insecure", "extra"}, `unexpected argument "extra"`},
		{[]string{"node", "--insecure", "--name", "bad name!"}, `--name "bad name!": a mesh name is 1 to 64 letters`},
		{[]string{"node", "--insecure", "--node-name", "Web"}, `--node-name "Web": node names are lower case: --node-name web`},
		{[]string{"node", "--insecure", "--node-name", "web_1"}, `--node-name "web_1": a node name is 1 to 63 of a-z, 0-9`},
		{[]string{"cat", "--insecure", "--join", "127.0.0.1:1", "--node-name", "0123456789abcdef", "echo"}, "not 16 hex digits"},
		{[]string{"status", "--node", "ftp://x"}, `want http://HOST:PORT`},
		{[]string{"cat", "--insecure", "--join", "127.0.0.1:1"}, "an address to dial is needed"},
		{[]string{"cat", "--insecure", "echo"}, "a mesh to join is needed"},
		{[]string{"cat", "--insecure", "--join", "127.0.0.1:1", "--listen", "x", "echo"}, "not both"},
	} {
		r := runIn(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "plexus help") {
			t.Errorf("plexus %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "--cert", "/nonexistent.crt"}, "TLS needs --cert, --key and --ca: --key and --ca missing"},
		{[]string{"node", "--cert", "/nonexistent.crt", "--key", "/nonexistent.key", "--ca", "/nonexistent"}, "--cert /nonexistent.crt"},
		{[]string{"node", "--insecure", "--http", "", "--listen", "tcp://" + busy.Addr().String()}, "address already in use"},
		{[]string{"node", "--insecure", "--http", busy.Addr().String()}, "--http " + busy.Addr().String()},
		{[]string{"node", "--insecure", "--http", "", "--forward", busy.Addr().String() + "=x"}, "address already in use"},
		{[]string{"node", "--insecure", "--http", "", "--expose", "0123456789abcdef=127.0.0.1:1"}, "--expose 0123456789abcdef=127.0.0.1:1"},
		{[]string{"status", "--node", busy.Addr().String(), "--timeout", "200ms"}, "cannot read the node's API"},
	} {
		r := runIn(tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plexus %s: exit %d, %q; want 1 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// TestNodeStopsClean runs plexus node in this process, with links, the
// status page and both sidecars, and cancels it as SIGTERM does: it
// returns 0 and leaves no goroutine behind.
func TestNodeStopsClean(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testutil.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, []string{"node", "--insecure", "--log-format", "json", "--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
			"--expose", "echo=127.0.0.1:1", "--forward", "127.0.0.1:0=echo"})
	}()
	defer cancel() // when the node does not start
	testutil.Eventually(t, "the node to start", func() bool { return strings.Contains(errOut.String(), "sidecar: forwarding") })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(testutil.Patience):
		t.Fatal("the node did not stop")
	}
}

// fakeReloader records what ReloadTLS is given.
type fakeReloader struct {
	cert  tls.Certificate
	roots *x509.CertPool
	err   error
}

func (f *fakeReloader) ReloadTLS(cert tls.Certificate, roots *x509.CertPool) error {
	f.cert, f.roots = cert, roots
	return f.err
}

// TestReload: SIGHUP hands the certificate files, read again, to a node
// that can take them, and says what happened otherwise.
func TestReload(t *testing.T) {
	certs := meshCerts(t, "n")
	o := &nodeOptions{}
	o.mesh.cert, o.mesh.key, o.mesh.ca = certs["n"][1], certs["n"][3], certs["n"][5]
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	f := &fakeReloader{}
	o.reload(f, log)
	if len(f.cert.Certificate) == 0 || f.roots == nil || !strings.Contains(logs.String(), "SIGHUP: certificate reloaded") {
		t.Errorf("reload: cert %v, roots %v, log %q", len(f.cert.Certificate), f.roots != nil, logs.String())
	}
	f.err = errors.New("not the same key")
	o.reload(f, log)
	if !strings.Contains(logs.String(), `msg="SIGHUP: the mesh refused the new certificate" err="not the same key"`) {
		t.Errorf("refused reload: %q", logs.String())
	}
	o.mesh.key = "/nonexistent.key"
	o.reload(f, log)
	if !strings.Contains(logs.String(), "SIGHUP: certificate files not reloaded") {
		t.Errorf("bad files: %q", logs.String())
	}
	o = &nodeOptions{}
	o.mesh.insecure = true
	o.reload(f, log)
	if !strings.Contains(logs.String(), "SIGHUP: the node runs without TLS: nothing to reload") {
		t.Errorf("insecure: %q", logs.String())
	}
}

// TestNodeNameIsTheCN: a secured node's name is its certificate's CN: a
// --node-name that repeats it is fine, another is refused with what the
// certificate says.
func TestNodeNameIsTheCN(t *testing.T) {
	dir := t.TempDir()
	mustPlexus(t, "cert", "ca", "--out", dir)
	mustPlexus(t, "cert", "node", "--ca", dir, "--name", "web-1", "--out", dir)
	tlsArgs := []string{"--cert", filepath.Join(dir, "web-1.crt"), "--key", filepath.Join(dir, "web-1.key"), "--ca", dir}
	r := runIn(append([]string{"node", "--http", "", "--node-name", "db"}, tlsArgs...)...)
	if r.code != 1 || !strings.Contains(r.stderr, `--node-name db: a secured node's name is its certificate's common name, "web-1" here`) {
		t.Errorf("--node-name other than the CN: exit %d, %q", r.code, r.stderr)
	}
	n := startNode(t, append([]string{"--node-name", "web-1"}, tlsArgs...)...)
	st := n.waitStatus(t, "its name", func(st *status.Status) bool { return st.Node.NodeName != "" })
	if st.Node.NodeName != "web-1" || !st.Node.NameVerified {
		t.Errorf("status: node name %q, verified %v", st.Node.NodeName, st.Node.NameVerified)
	}
	if got, _ := n.logged(t, "node started")["node-name"].(string); got != "web-1" {
		t.Errorf("node started: node-name %q", got)
	}
	n.stop(t)
}

// TestWarnCertExpiry: the node warns of a certificate that expires within
// 30 days, or has expired, and says nothing of one that does not.
func TestWarnCertExpiry(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		notAfter time.Time
		want     string // "" : nothing logged
	}{
		{"no TLS", time.Time{}, ""},
		{"a year", now.AddDate(1, 0, 0), ""},
		{"10 days", now.AddDate(0, 0, 10), `msg="certificate expires soon: renew it ('plexus cert node --renew'), then send the node SIGHUP" cert=node.crt not-after=2026-12-18 in="10 days"`},
		{"expired", now.Add(-time.Hour), `level=WARN msg="certificate EXPIRED`},
	} {
		var logs testutil.Buffer
		warnCertExpiry(slog.New(slog.NewTextHandler(&logs, nil)), "node.crt", tc.notAfter, now)
		if got := logs.String(); tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: logged %q, want %q", tc.name, got, tc.want)
		}
	}
}
