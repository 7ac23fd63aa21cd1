package pair_test

import (
	"fmt"

	"github.com/plexusnet/plexus/protocol/pair"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func Example() {
	a, _ := pair.New()
	defer a.Close()
	b, _ := pair.New()
	defer b.Close()
	a.Listen("inproc://example-pair")
	b.Dial("inproc://example-pair")

	a.Send([]byte("hello b"))
	m, _ := b.Recv()
	fmt.Println(string(m))
	b.Send([]byte("hello a"))
	m, _ = a.Recv()
	fmt.Println(string(m))
	// Output:
	// hello b
	// hello a
}
