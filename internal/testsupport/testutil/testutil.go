// Package testutil holds the helpers that the tests of many packages
// share: waiting for a condition, a TLS setup, the req0/rep0 pair the
// transport tests connect, free addresses, and running a reference peer
// program (nngcat, nanocat). It imports no plexus package but transport,
// so that the in-package tests of socket and of every transport can use
// it; the helpers that need sockets are in internal/testsupport/prototest.
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusnet/plexus/transport"
)

// Patience bounds every wait of the helpers: a safety net against a
// hang, not a timing assertion.
const Patience = 20 * time.Second

// Buffer is a bytes.Buffer safe for concurrent use: a log that goroutines
// write while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TLSConfigs returns a server config with a fresh self-signed certificate
// for 127.0.0.1 and a client config that trusts it.
func TLSConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "plexus test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// ReqRep returns the protocols of req0 and rep0: the pair of peers the
// transport tests connect.
func ReqRep() (req, rep transport.Proto) {
	return transport.Proto{ID: 0x30, Name: "req"}, transport.Proto{ID: 0x31, Name: "rep"}
}

// ReqRepConfigs returns fresh transport configs of a req0 end and of a
// rep0 end, each the other's peer.
func ReqRepConfigs() (req, rep *transport.Config) {
	q, p := ReqRep()
	return &transport.Config{Self: q, Peer: p}, &transport.Config{Self: p, Peer: q}
}

// FreeURL returns a URL of scheme ("tcp", "ipc" or "ws") nobody listens
// on, for a peer program to listen on: a loopback port that was free a
// moment ago, or a socket file in a fresh short directory (a Unix socket
// path has a small size limit) removed when the test ends.
func FreeURL(t testing.TB, scheme string) string {
	t.Helper()
	if scheme == "ipc" {
		dir, err := os.MkdirTemp("", "sp")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return "ipc://" + dir + "/s"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if scheme == "ws" {
		return "ws://" + ln.Addr().String() + "/sp"
	}
	return "tcp://" + ln.Addr().String()
}

// Command runs the program name with args until the test ends and
// returns the lines it prints on standard output; lines beyond 1024 that
// nobody has read are dropped. The test is skipped when the program is
// not installed; when the test fails, what the program wrote on standard
// error is logged.
func Command(t testing.TB, name string, args ...string) <-chan string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: apt-get install nng-utils nanomsg-utils): skipping this interop test", name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads that many: drop
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s %s: stderr %q", name, strings.Join(args, " "), stderr.String())
		}
	})
	return lines
}

// Line returns the next line of a Command, failing the test when the
// program has exited or printed nothing within Patience.
func Line(t testing.TB, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the program exited")
		}
		return l
	case <-time.After(Patience):
		t.Fatal("the program printed nothing")
	}
	return ""
}

// Connect dials the listener l of tr at u with cfg and accepts the
// connection on l, failing the test on an error: c is the dialing end, s
// the accepted one. The caller closes both.
func Connect(t testing.TB, tr transport.Transport, u *url.URL, cfg *transport.Config, l transport.Listener) (c, s transport.Pipe) {
	t.Helper()
	c, err := tr.Dial(context.Background(), u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err = l.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, s
}

// Exchange sends msg from c as one frame and checks that s receives it.
func Exchange(t testing.TB, c, s transport.Pipe, msg string) {
	t.Helper()
	c.Send(transport.AppendFrame(nil, []byte(msg)))
	if m, err := s.Recv(); err != nil || string(m) != msg {
		t.Fatalf("%q %v", m, err)
	}
}

// TCPPair returns the two ends of a loopback TCP connection, which, unlike
// net.Pipe, buffer what is written; both are closed when the test ends.
func TCPPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	x, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	y, err := ln.Accept()
	if err != nil {
		x.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close(); y.Close() })
	return x.(*net.TCPConn), y.(*net.TCPConn)
}

// ListenCommand runs the program name with args followed by "--listen"
// and a free address of scheme, and calls try with that address until it
// returns nil (a dial that succeeds once the program listens); it returns
// the program's lines, as Command does, and the address. A port free when
// FreeURL looked may be taken before the program binds it (by a
// connection of another test process): a program that exits before try
// succeeds is run again on another address, up to three times.
func ListenCommand(t testing.TB, name, scheme string, args []string, try func(addr string) error) (<-chan string, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := FreeURL(t, scheme)
		lines := Command(t, name, append(append([]string(nil), args...), "--listen", addr)...)
		exited := false
		WaitFor(t, name+" to listen on "+addr, func() error {
			select {
			case l, ok := <-lines: // a listening program prints nothing before it is dialed
				if ok {
					t.Fatalf("%s printed %q before it was dialed", name, l)
				}
				exited = true
				return nil
			default:
			}
			return try(addr)
		})
		if !exited {
			return lines, addr
		}
		if attempt == 3 {
			t.Fatalf("%s exited before listening, 3 times", name)
		}
		t.Logf("%s exited before listening on %s (taken meanwhile?): again on another address", name, addr)
	}
}
