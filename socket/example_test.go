package socket_test

import (
	"fmt"
	"log"

	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	_ "github.com/plexusnet/plexus/transport/inproc"
)

// A req/rep pair over inproc: the server replies along the path the
// request came by (msg.Source), the client gets the reply to its request.
func Example_reqRep() {
	server, err := rep.New()
	if err != nil {
		log.Fatal(err)
	}
	if err := server.Listen("inproc://example-reqrep"); err != nil {
		log.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			msg, err := server.RecvMsg()
			if err != nil {
				return // the server closed
			}
			server.SendTo(msg.Source, append([]byte("re: "), msg.Content...))
		}
	}()

	client, err := req.New()
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Dial("inproc://example-reqrep"); err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{"hello", "again"} {
		if err := client.Send([]byte(q)); err != nil {
			log.Fatal(err)
		}
		reply, err := client.Recv()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(reply))
	}

	client.Close()
	server.Close()
	<-served
	// Output:
	// re: hello
	// re: again
}
