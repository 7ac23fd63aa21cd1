// Command socket-switch puts a switch between clients and servers: the
// clients dial the switch's front socket, the servers dial its back
// socket, and every reply, sent along the request's Source path, crosses
// the switch back to the client that asked. The middleware tags what
// passes and drops messages that ask for it.
package main

import (
	"bytes"
	"fmt"
	"log"

	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

// open returns a raw socket.
func open() socket.Socket {
	s, err := socket.New()
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func main() {
	front, back := open(), open()
	defer front.Close()
	defer back.Close()
	frontAddr, err := front.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	backAddr, err := back.ListenAddr("ipc:///tmp/plexus-socket-switch.sock")
	if err != nil {
		log.Fatal(err)
	}
	sw := socket.StartSwitch(back, front, func(m *socket.Message) *socket.Message {
		if bytes.HasPrefix(m.Content, []byte("drop")) {
			return nil
		}
		m.Content = append(m.Content, " (via switch)"...)
		return m
	})
	defer sw.Stop()

	for i := 0; i < 2; i++ {
		srv := open()
		defer srv.Close()
		if err := srv.Dial(backAddr); err != nil {
			log.Fatal(err)
		}
		go func() {
			for {
				m, err := srv.RecvMsg()
				if err != nil {
					return
				}
				reply := fmt.Sprintf("server %d answers %q, path %v", i, m.Content, m.Source)
				srv.SendTo(m.Source, []byte(reply))
			}
		}()
	}

	for c := 0; c < 3; c++ {
		cli := open()
		defer cli.Close()
		if err := cli.Dial(frontAddr); err != nil {
			log.Fatal(err)
		}
		cli.Send([]byte("drop me"))
		cli.Send([]byte(fmt.Sprint("hello from client ", c)))
		b, err := cli.Recv()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("client %d got: %s\n", c, b)
	}
}
