package prom

import (
	"net"
	"os"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/mux"
	"github.com/plexusnet/plexus/socket"
)

// TestDocsListEveryMetric: docs/metrics.md names every metric the
// collectors export, and no other.
func TestDocsListEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(plexus_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	sess, err := mux.Client(p, &mux.Config{KeepAliveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	n, err := mesh.New(mesh.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	sock, err := socket.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	exported := map[string]bool{}
	for _, c := range []prometheus.Collector{NewNodeCollector(n), NewSocketCollector("s", sock), NewSessionCollector("m", sess)} {
		ch := make(chan *prometheus.Desc, 100)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name := regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d.String())[1]
			exported[name] = true
			if !documented[name] {
				t.Errorf("%s is not in docs/metrics.md", name)
			}
		}
	}
	for name := range documented {
		if !exported[name] {
			t.Errorf("docs/metrics.md names %s, which no collector exports", name)
		}
	}
}
