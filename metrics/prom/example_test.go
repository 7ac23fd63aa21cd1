package prom_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/metrics/prom"
	"github.com/plexusnet/plexus/socket"
)

// A node and a socket served at /metrics, with the Go runtime's metrics
// beside them, from a registry of the handler's own.
func ExampleHandler() {
	node, err := mesh.New(mesh.WithName("prod"), mesh.WithInsecure()) // mesh.WithTLS(cfg) in production
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	sock, err := socket.New()
	if err != nil {
		log.Fatal(err)
	}
	defer sock.Close()

	h, err := prom.Handler(
		prom.NewNodeCollector(node),
		prom.NewSocketCollector("jobs", sock),
		collectors.NewGoCollector(),
	)
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/metrics", h)
}
