// Command reqrep-nng sends requests with a plexus req socket and prints the
// replies. Point it at any NNG or nanomsg rep socket, for example:
//
//	nngcat --rep --listen tcp://127.0.0.1:5555 --data pong -Q &
//	go run ./examples/reqrep-nng tcp://127.0.0.1:5555
//
// Without an argument it starts its own plexus rep server and talks to it.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func main() {
	addr := ""
	if len(os.Args) > 1 {
		addr = os.Args[1]
	} else {
		srv, err := rep.New()
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Close()
		if addr, err = srv.ListenAddr("tcp://127.0.0.1:0"); err != nil {
			log.Fatal(err)
		}
		go func() {
			for {
				m, err := srv.RecvMsg()
				if err != nil {
					return
				}
				srv.SendTo(m.Source, []byte("pong"))
			}
		}()
	}

	q, err := req.New(req.WithResendInterval(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	if err := q.Dial(addr); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		if err := q.SendContext(ctx, []byte(fmt.Sprint("ping ", i))); err != nil {
			log.Fatal(err)
		}
		b, err := q.RecvContext(ctx)
		cancel()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("reply %q in %v\n", b, time.Since(start).Round(time.Microsecond))
	}
}
