package prom

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	ptestutil "github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/mux"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait, and eventually waits for a condition within
// it (internal/testutil, here ptestutil beside Prometheus's testutil).
const patience = ptestutil.Patience

var eventually = ptestutil.Eventually

// linkedNodes returns two nodes linked over a pipe; a listens on the
// service "echo".
func linkedNodes(t *testing.T) (a, b *mesh.Node) {
	t.Helper()
	var err error
	if a, err = mesh.New(mesh.WithName("prom"), mesh.WithInsecure()); err != nil {
		t.Fatal(err)
	}
	if b, err = mesh.New(mesh.WithName("prom"), mesh.WithInsecure()); err != nil {
		a.Close()
		t.Fatal(err)
	}
	x, y := net.Pipe()
	done := make(chan struct{}, 2)
	go func() { a.Attach(x); done <- struct{}{} }()
	go func() { b.Attach(y); done <- struct{}{} }()
	t.Cleanup(func() {
		a.Close()
		b.Close()
		<-done
		<-done
	})
	eventually(t, "the link", func() bool { return len(a.Routes()) == 1 && len(b.Routes()) == 1 })
	return a, b
}

// scrape gets h's answer as the text format and parses it.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels
// include want, failing the test if there is none.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no sample of %s with %v", name, want)
	return 0
}

func TestNodeCollector(t *testing.T) {
	a, b := linkedNodes(t)
	ln, err := b.Listen("", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}
	}()
	eventually(t, "a sees echo", func() bool { return len(a.Services()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	conn, err := a.DialContext(ctx, "", "echo")
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("ping"))
	io.ReadFull(conn, make([]byte, 4))

	h, err := Handler(NewNodeCollector(a), NewNodeCollector(b))
	if err != nil {
		t.Fatal(err)
	}
	mfs := scrape(t, h)
	conn.Close()
	na, nb := mesh.FormatID(a.ID()), mesh.FormatID(b.ID())
	for name, want := range map[string]float64{
		"plexus_mesh_links":                 1,
		"plexus_mesh_link_ups_total":        1,
		"plexus_mesh_routes":                1,
		"plexus_mesh_dials_total":           1,
		"plexus_mesh_dial_errors_total":     0,
		"plexus_mesh_dial_duration_seconds": 1,
		"plexus_mesh_node_info":             1,
		"plexus_mesh_connections":           1,
	} {
		if got := value(t, mfs, name, map[string]string{"node": na}); got != want {
			t.Errorf("%s{node=%s} = %v, want %v", name, na, got, want)
		}
	}
	if got := value(t, mfs, "plexus_mesh_node_info", map[string]string{"node": nb, "name": "prom", "relay": "true", "secure": "false"}); got != 1 {
		t.Errorf("b's info = %v", got)
	}
	if got := value(t, mfs, "plexus_mesh_peer_links", map[string]string{"node": na, "peer": nb}); got != 1 {
		t.Errorf("a's links to b = %v", got)
	}
	for _, name := range []string{"plexus_mesh_sent_bytes_total", "plexus_mesh_received_bytes_total", "plexus_mesh_peer_sent_bytes_total", "plexus_mesh_records_received_total", "plexus_mesh_start_time_seconds", "plexus_mesh_peer_link_start_time_seconds"} {
		if got := value(t, mfs, name, map[string]string{"node": na}); got <= 0 {
			t.Errorf("%s{node=%s} = %v, want > 0", name, na, got)
		}
	}
	if mf := mfs["plexus_mesh_dial_duration_seconds"]; mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()[0].GetHistogram().GetBucket()) == 0 {
		t.Errorf("dial duration: %v", mf)
	}
	problems, err := testutil.CollectAndLint(NewNodeCollector(a))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestSocketCollector(t *testing.T) {
	x, y, err := socket.NewPair()
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	defer y.Close()
	for i := 0; i < 3; i++ {
		if err := x.Send([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := y.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	// x counts a message as sent once its write returned, which may be
	// after y received it.
	eventually(t, "x to count 3 messages sent", func() bool { return x.Stats().MsgsSent == 3 })
	cx := NewSocketCollector("x", x)
	want := `
# HELP plexus_socket_sent_messages_total Messages written to pipes.
# TYPE plexus_socket_sent_messages_total counter
plexus_socket_sent_messages_total{socket="x"} 3
# HELP plexus_socket_pipes Pipes (connections to peers) open now.
# TYPE plexus_socket_pipes gauge
plexus_socket_pipes{socket="x"} 1
# HELP plexus_socket_dropped_messages_total Messages dropped: a full queue when best effort or for SendTo, or queued for a pipe that closed.
# TYPE plexus_socket_dropped_messages_total counter
plexus_socket_dropped_messages_total{socket="x"} 0
`
	if err := testutil.CollectAndCompare(cx, strings.NewReader(want), "plexus_socket_sent_messages_total", "plexus_socket_pipes", "plexus_socket_dropped_messages_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		ms := make(chan prometheus.Metric, 100)
		NewSocketCollector("y", y).Collect(ms)
		close(ms)
		for m := range ms {
			if strings.Contains(m.Desc().String(), `"plexus_socket_received_messages_total"`) {
				ch <- m
			}
		}
	})); got != 3 {
		t.Errorf("y received %v messages, want 3", got)
	}
	problems, err := testutil.CollectAndLint(cx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	// One registry takes two sockets of different names, not of one name.
	if _, err := NewRegistry(cx, NewSocketCollector("y", y)); err != nil {
		t.Errorf("two sockets: %v", err)
	}
	_, err = Handler(cx, NewSocketCollector("x", y))
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Errorf("two sockets named x: %v, want an AlreadyRegisteredError", err)
	}
}

func TestSessionCollector(t *testing.T) {
	p, q := net.Pipe()
	c, err := mux.Client(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mux.Server(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte("hi"))
	if _, err := s.AcceptStream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := Handler(NewSessionCollector("client", c), NewSessionCollector("server", s))
	if err != nil {
		t.Fatal(err)
	}
	mfs := scrape(t, h)
	for _, tc := range []struct {
		name, session string
		want          float64
	}{
		{"plexus_mux_streams_opened_total", "client", 1},
		{"plexus_mux_streams_accepted_total", "server", 1},
		{"plexus_mux_streams", "client", 1},
	} {
		if got := value(t, mfs, tc.name, map[string]string{"session": tc.session}); got != tc.want {
			t.Errorf("%s{session=%s} = %v, want %v", tc.name, tc.session, got, tc.want)
		}
	}
	if got := value(t, mfs, "plexus_mux_rtt_seconds", map[string]string{"session": "client"}); got <= 0 {
		t.Errorf("rtt = %v after a ping", got)
	}
	problems, err := testutil.CollectAndLint(NewSessionCollector("c", c))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
