package mux_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/plexusnet/plexus/mux"
)

// A client and a server session over one connection (here a net.Pipe; a
// TCP or TLS connection works the same): the client opens a stream, the
// server accepts it, and each stream is both a net.Conn and a message
// stream.
func Example() {
	c1, c2 := net.Pipe()
	client, err := mux.Client(c1, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	server, err := mux.Server(c2, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	ctx := context.Background()
	done := make(chan struct{})
	go func() { // the server: answer one message, then echo bytes until EOF
		defer close(done)
		st, err := server.AcceptStream(ctx)
		if err != nil {
			log.Print(err)
			return
		}
		defer st.Close()
		msg, err := st.Recv()
		if err != nil {
			log.Print(err)
			return
		}
		st.Send(append([]byte("re: "), msg...))
		io.Copy(st, st)
	}()

	st, err := client.OpenStream(ctx) // no round trip: write at once
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	st.Send([]byte("hello")) // one whole message
	reply, err := st.Recv()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))

	st.Write([]byte("bytes, as on any net.Conn"))
	st.CloseWrite() // the server's io.Copy sees EOF
	echo, err := io.ReadAll(st)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(echo))
	<-done
	// Output:
	// re: hello
	// bytes, as on any net.Conn
}

// Serve runs a handler per stream on every connection a listener accepts;
// Dial makes the client's session.
func ExampleServe() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- mux.Serve(ln, nil, func(st *mux.Stream) {
			defer st.Close()
			io.Copy(st, st)
		})
	}()

	ctx := context.Background()
	sess, err := mux.Dial(ctx, "tcp", ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := sess.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	st.Write([]byte("hello over TCP"))
	st.CloseWrite()
	reply, _ := io.ReadAll(st)
	fmt.Println(string(reply))
	st.Close()

	sess.Close()
	ln.Close() // Serve returns, having closed its sessions
	<-served
	// Output:
	// hello over TCP
}
