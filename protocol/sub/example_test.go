package sub_test

import (
	"fmt"

	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/sub"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func Example() {
	s, _ := sub.New()
	defer s.Close()
	sub.Subscribe(s, []byte("weather/"))
	s.Listen("inproc://example-pubsub")

	p, _ := pub.New()
	defer p.Close()
	// A publisher sends to the subscribers connected at the time: dialing
	// returns once this one is.
	p.Dial("inproc://example-pubsub")
	p.Send([]byte("news/sport 2-1"))
	p.Send([]byte("weather/paris 21°C"))

	b, _ := s.Recv()
	fmt.Println(string(b))
	// Output:
	// weather/paris 21°C
}
