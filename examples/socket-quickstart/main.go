// Command socket-quickstart runs multisocket's quick start with plexus: a
// server whose workers receive concurrently and answer along each
// message's Source path, and a client whose sending and receiving are
// independent.
package main

import (
	"fmt"
	"log"

	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func main() {
	srv, err := socket.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	addr, err := srv.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	for n := 0; n < 2; n++ {
		go func() {
			for {
				msg, err := srv.RecvMsg()
				if err != nil {
					return // closed
				}
				reply := fmt.Sprintf("[#%d]Hello, %s", n, msg.Content)
				if err := srv.SendTo(msg.Source, []byte(reply)); err != nil {
					log.Print(err)
				}
			}
		}()
	}

	cli, err := socket.New()
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	if err := cli.Dial(addr); err != nil {
		log.Fatal(err)
	}
	const n = 5
	go func() {
		for i := 0; i < n; i++ {
			if err := cli.Send([]byte(fmt.Sprint("client#", i))); err != nil {
				log.Print(err)
			}
		}
	}()
	for i := 0; i < n; i++ {
		b, err := cli.Recv()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(b))
	}
}
