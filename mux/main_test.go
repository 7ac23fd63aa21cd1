package mux

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/fastio"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// transports the tests run sessions over.
var transports = []struct {
	name string
	pipe func(t testing.TB) (net.Conn, net.Conn)
}{
	{"TCP", tcpPipe},
	{"Pipe", func(testing.TB) (net.Conn, net.Conn) { return net.Pipe() }},
	{"TLS", tlsPipe},
	{"TLSRecords", tlsRecordsPipe},
}

// tlsPipe returns both ends of a TLS 1.3 connection over loopback TCP, with
// a certificate made for the test.
func tlsPipe(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	return tlsPipeOver(t, func(c net.Conn) net.Conn { return c })
}

// tlsRecordsPipe is tlsPipe with TLS over a fastio.RecordConn on each
// end, as a mesh link's: sessions seal their batches there and write the
// records themselves.
func tlsRecordsPipe(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	return tlsPipeOver(t, func(c net.Conn) net.Conn { return fastio.NewRecordConn(c, c) })
}

// tlsPipeOver is tlsPipe with TLS over wrap of each TCP connection.
func tlsPipeOver(t testing.TB, wrap func(net.Conn) net.Conn) (net.Conn, net.Conn) {
	t.Helper()
	scfg, ccfg := testutil.TLSConfigs(t)
	scfg.MinVersion, ccfg.MinVersion = tls.VersionTLS13, tls.VersionTLS13
	ccfg.ServerName = "127.0.0.1"
	c1, c2 := tcpPipe(t)
	client, server := tls.Client(wrap(c1), ccfg), tls.Server(wrap(c2), scfg)
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return client, server
}

// tcpPipe returns both ends of a loopback TCP connection.
func tcpPipe(t testing.TB) (net.Conn, net.Conn) {
	a, b := testutil.TCPPair(t)
	return a, b
}

// sessionPair starts a client and a server session over pipe; both are
// closed when the test ends.
func sessionPair(t testing.TB, pipe func(testing.TB) (net.Conn, net.Conn), ccfg, scfg *Config) (*Session, *Session) {
	t.Helper()
	c1, c2 := pipe(t)
	cs, err := Client(c1, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Server(c2, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Close()
	})
	return cs, ss
}

// streamPair opens a stream on c and accepts it on s.
func streamPair(t testing.TB, c, s *Session) (*Stream, *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
