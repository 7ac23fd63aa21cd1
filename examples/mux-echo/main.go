// Command mux-echo runs a mux echo server and a client on one TCP
// connection: the client opens several streams at once, writes a line on
// each, half-closes it and prints the echo.
//
//	go run ./examples/mux-echo             # server and client in one process
//	go run ./examples/mux-echo -listen :7000
//	go run ./examples/mux-echo -dial 127.0.0.1:7000 -streams 10
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"sync"

	"github.com/plexusnet/plexus/mux"
)

func main() {
	listen := flag.String("listen", "", "serve on this address (and do nothing else)")
	dial := flag.String("dial", "", "dial this server instead of starting one")
	streams := flag.Int("streams", 5, "streams the client opens at once")
	flag.Parse()

	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("serving on %v", ln.Addr())
		log.Fatal(mux.Serve(ln, nil, echo))
	}

	addr := *dial
	if addr == "" { // a server in this process
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		defer ln.Close()
		go mux.Serve(ln, nil, echo)
		addr = ln.Addr().String()
	}

	ctx := context.Background()
	sess, err := mux.Dial(ctx, "tcp", addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	var wg sync.WaitGroup
	for i := 0; i < *streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := sess.OpenStream(ctx)
			if err != nil {
				log.Print(err)
				return
			}
			defer st.Close()
			fmt.Fprintf(st, "hello from stream %d\n", st.ID())
			st.CloseWrite() // the server sees EOF after our line
			line, err := bufio.NewReader(st).ReadString('\n')
			if err != nil && err != io.EOF {
				log.Print(err)
				return
			}
			fmt.Printf("stream %d: %s", st.ID(), line)
		}()
	}
	wg.Wait()
}

// echo copies a stream back to itself until the client half-closes it.
func echo(st *mux.Stream) {
	defer st.Close()
	io.Copy(st, st)
}
