package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/plexusnet/plexus/mesh"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/socket"
	meshtp "github.com/plexusnet/plexus/transport/mesh"
)

// demoMesh: three nodes over loopback TCP, a - b - c, where a reaches c's
// services through b: a connection by service name, an HTTP request, and
// req/rep over mesh://.
func demoMesh(ctx context.Context, w io.Writer) error {
	var nodes [3]*mesh.Node
	for i := range nodes {
		n, err := mesh.New(mesh.WithName("demo"), mesh.WithInsecure())
		if err != nil {
			return err
		}
		defer n.Close()
		nodes[i] = n
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := b.Serve(ln); err != nil {
		return err
	}
	a.Join("tcp", ln.Addr().String())
	c.Join("tcp", ln.Addr().String())
	fmt.Fprintf(w, "nodes a %s, b %s (links on %v), c %s; a and c join b\n",
		mesh.FormatID(a.ID()), mesh.FormatID(b.ID()), ln.Addr(), mesh.FormatID(c.ID()))

	// c offers three services: echo (plain conns), billing (HTTP), rpc (req/rep).
	echoLn, err := c.Listen("", "echo")
	if err != nil {
		return err
	}
	go func() {
		for {
			conn, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(conn, conn); conn.Close() }()
		}
	}()
	httpLn, err := c.Listen("", "billing")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "invoice %s for %s", r.URL.Path, r.RemoteAddr)
	})}
	go srv.Serve(httpLn)
	defer srv.Close()
	server, err := rep.New(socket.WithTransport(meshtp.New(c)))
	if err != nil {
		return err
	}
	defer server.Close()
	if err := server.Listen("mesh://rpc"); err != nil {
		return err
	}
	go func() {
		for {
			m, err := server.RecvMsg()
			if err != nil {
				return
			}
			server.SendTo(m.Source, append([]byte("re: "), m.Content...))
		}
	}()

	start := time.Now()
	for len(a.Services()) < 3 {
		if time.Since(start) > 10*time.Second {
			return errors.New("a does not see c's services")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintf(w, "a sees c's services after %v:\n", time.Since(start).Round(time.Millisecond))
	for _, s := range a.Services() {
		fmt.Fprintf(w, "  %-8s on %s:%d, %d hops\n", s.Name, mesh.FormatID(s.Host), s.Port, s.Hops)
	}
	for _, r := range a.Routes() {
		fmt.Fprintf(w, "  route to %s via %s, %d hops\n", mesh.FormatID(r.Host), mesh.FormatID(r.NextHop), r.Hops)
	}

	// A connection by name, through the relay.
	start = time.Now()
	conn, err := a.DialContext(ctx, "", "echo")
	if err != nil {
		return err
	}
	msg := []byte("hello through b")
	conn.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		return err
	}
	conn.Close()
	fmt.Fprintf(w, "echo through the relay: %q back in %v (first dial: sets up the circuit)\n", got, time.Since(start).Round(time.Microsecond))
	const opens = 2000
	start = time.Now()
	for range opens {
		conn, err := a.DialContext(ctx, "", "echo")
		if err != nil {
			return err
		}
		conn.Close()
	}
	d := time.Since(start)
	fmt.Fprintf(w, "%d more dials to echo, one after another, on the same circuit: %s\n", opens, rate(opens, d, "dials"))

	// HTTP over the mesh.
	tr := a.HTTPTransport()
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://billing/2024-42")
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(w, "GET http://billing/2024-42: %s %q\n", resp.Status, body)

	// req/rep over mesh://.
	client, err := req.New(socket.WithTransport(meshtp.New(a)))
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Dial("mesh://rpc"); err != nil {
		return err
	}
	client.Send([]byte("ping"))
	reply, err := client.Recv()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "req/rep over mesh://rpc: %q\n", reply)
	return nil
}
