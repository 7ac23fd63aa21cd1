package bus_test

import (
	"fmt"
	"time"

	"github.com/plexusnet/plexus/protocol/bus"
)

func Example() {
	// Three members, fully connected: each hears the other two.
	a, _ := bus.New()
	defer a.Close()
	b, _ := bus.New()
	defer b.Close()
	c, _ := bus.New()
	defer c.Close()
	a.Listen("inproc://example-bus-a")
	b.Listen("inproc://example-bus-b")
	b.Dial("inproc://example-bus-a")
	c.Dial("inproc://example-bus-a")
	c.Dial("inproc://example-bus-b")
	// A message goes to the peers connected at the time: wait for all.
	for a.Stats().Pipes < 2 || b.Stats().Pipes < 2 {
		time.Sleep(time.Millisecond)
	}

	a.Send([]byte("hello from a"))
	mb, _ := b.Recv()
	mc, _ := c.Recv()
	fmt.Println(string(mb), "/", string(mc))
	// Output:
	// hello from a / hello from a
}
