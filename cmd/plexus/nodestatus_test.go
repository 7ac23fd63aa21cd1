package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/mesh"
)

// TestNodeStatusJoinsAndSidecars: the status of a node lists its joins
// with their state and its sidecars with their connections and last
// error.
func TestNodeStatusJoinsAndSidecars(t *testing.T) {
	n, err := mesh.New(mesh.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nobody listens there
	if err := n.Join("tcp", dead); err != nil {
		t.Fatal(err)
	}
	sc := newSidecars(n, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer sc.close()
	if err := sc.expose(context.Background(), exposeSpec{"web", dead}); err != nil {
		t.Fatal(err)
	}
	// A connection to web: the sidecar's dial to the dead address fails.
	conn, err := n.Dial("", "web")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, conn) // until the sidecar closes it
	conn.Close()

	p := &nodeProvider{node: n, sidecars: sc}
	var st *status.Status
	testutil.Eventually(t, "a redialing join and a sidecar error", func() bool {
		if st, err = p.Status(context.Background()); err != nil {
			t.Fatal(err)
		}
		return len(st.Joins) == 1 && st.Joins[0].State == "redialing" && len(st.Sidecars) == 1 && st.Sidecars[0].Error != "" && st.Sidecars[0].Open == 0
	})
	j := st.Joins[0]
	if j.Addr != "tcp://"+dead || j.Peer != "" || !strings.Contains(j.Error, "connection refused") || j.ErrorTime == nil || j.NextTry == nil {
		t.Errorf("join: %+v", j)
	}
	s := st.Sidecars[0]
	if s.Kind != "expose" || s.Spec != "web="+dead || s.Listen != "web" || s.Total != 1 || !strings.Contains(s.Error, "connection refused") || s.ErrorTime == nil {
		t.Errorf("sidecar: %+v", s)
	}
	if st.Node.CertNotAfter != nil {
		t.Errorf("an insecure node has a certificate expiry: %v", st.Node.CertNotAfter)
	}
}
