package mesh

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// HTTPTransport returns an *http.Transport whose requests travel over the
// mesh, in the node's env: http://billing/ reaches the service billing (on
// whatever port it listens), http://billing:8080/ the instances of billing
// on port 8080, and http://<16 hex digits>:<port>/ a port of a host. So an
// http.Client, and an http.Server serving on a mesh listener, run over the
// mesh unchanged.
//
// A URL without a port is given port 80 by net/http; for a service name
// that port means "the service's own port", so http://billing:80/ is the
// same as http://billing/.
func (n *Node) HTTPTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // the mesh has no proxies: never take them from the environment
		DialContext:           n.dialHTTP,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// dialHTTP dials for net/http, mapping a service's default port 80 to the
// service's own port.
func (n *Node) dialHTTP(ctx context.Context, _, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && port == "80" && !base.IsID(host) {
		addr = host
	}
	return n.DialContext(ctx, "", addr)
}
