package bus_test

import (
	"fmt"

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
	b.Listen("inproc://example-bus-b")
	c.Listen("inproc://example-bus-c")
	// A message goes to the peers connected at the time; Dial returns
	// once its peer is, so a, which sends, dials both.
	a.Dial("inproc://example-bus-b")
	a.Dial("inproc://example-bus-c")
	b.Dial("inproc://example-bus-c")

	a.Send([]byte("hello from a"))
	mb, _ := b.Recv()
	mc, _ := c.Recv()
	fmt.Println(string(mb), "/", string(mc))
	// Output:
	// hello from a / hello from a
}
