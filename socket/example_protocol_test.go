package socket_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"

	"github.com/plexusnet/plexus/socket"
	"github.com/plexusnet/plexus/transport"
	_ "github.com/plexusnet/plexus/transport/inproc"
)

// quorum is a tiny protocol of our own: a bus whose Send fails unless
// enough peers are connected to hear it. Its description says the wire
// (an id of the experimental range, no header) and the sends it has (to
// every peer); its handler keeps the one piece of state (how many peers)
// and has two hooks.
var quorum = socket.Protocol{
	Self:    transport.Proto{ID: 0xF010, Name: "quorum"},
	Peer:    transport.Proto{ID: 0xF010, Name: "quorum"},
	Header:  socket.HeaderNone,
	Sends:   socket.SendsAll,
	Handler: func() socket.Handler { return &quorumHandler{need: 1} },
}

// newQuorum is the constructor every protocol has.
func newQuorum(opts ...socket.Option) (socket.Socket, error) {
	return socket.New(append([]socket.Option{socket.WithProtocol(quorum)}, opts...)...)
}

// withQuorum is the protocol's own option, typed and checked: given to a
// socket of any other protocol, New fails with socket.ErrBadOption.
func withQuorum(n int) socket.Option {
	return socket.HandlerOption("withQuorum", func(h *quorumHandler) error {
		if n < 1 {
			return fmt.Errorf("a quorum of %d", n)
		}
		h.need = n
		return nil
	})
}

// quorumHandler is the state of one quorum socket.
type quorumHandler struct {
	c    socket.Core
	need int

	mu    sync.Mutex
	peers int
}

// Init keeps the socket's Core, through which Send sends.
func (h *quorumHandler) Init(c socket.Core) error {
	h.c = c
	return nil
}

// PipeAdded and PipeRemoved (socket.PipeHook) count the peers.
func (h *quorumHandler) PipeAdded(uint32) {
	h.mu.Lock()
	h.peers++
	h.mu.Unlock()
}

func (h *quorumHandler) PipeRemoved(uint32) {
	h.mu.Lock()
	h.peers--
	h.mu.Unlock()
}

// Send (socket.SendHook) is every send without a path: Send, SendAll,
// SendMsg. It refuses while the quorum is not there, and otherwise sends
// as the description says, to every peer.
func (h *quorumHandler) Send(ctx context.Context, content []byte) error {
	h.mu.Lock()
	n := h.peers
	h.mu.Unlock()
	if n < h.need {
		return fmt.Errorf("%w: %d peers of the %d needed", socket.ErrBadState, n, h.need)
	}
	return h.c.SendMsg(ctx, &socket.Message{Content: content})
}

// Example_protocol writes a protocol: a description, a handler with hooks,
// an option; the socket core does every Socket method, for it as for the
// others.
func Example_protocol() {
	a, err := newQuorum(withQuorum(2))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	fmt.Println(a.Send([]byte("anyone?")))

	for _, name := range []string{"b", "c"} {
		peer, err := newQuorum()
		if err != nil {
			log.Fatal(err)
		}
		defer peer.Close()
		if err := peer.Listen("inproc://example-quorum-" + name); err != nil {
			log.Fatal(err)
		}
		// Dial returns once the pipe is up and the handler told.
		if err := a.Dial("inproc://example-quorum-" + name); err != nil {
			log.Fatal(err)
		}
		defer func() {
			b, err := peer.Recv()
			fmt.Printf("%s got %q, %v\n", name, b, err)
		}()
	}
	fmt.Println(a.Send([]byte("hello, both")))

	// The protocol's option on a socket of another protocol.
	_, err = socket.New(withQuorum(2))
	fmt.Println(errors.Is(err, socket.ErrBadOption), err)
	// A send this protocol does not have.
	fmt.Println(a.SendTo(socket.Path{1}, nil))

	// Output:
	// socket: incorrect state for this operation: 0 peers of the 2 needed
	// <nil>
	// true socket: option or operation not for this socket: withQuorum is not an option of a plexus socket
	// socket: invalid send type
	// c got "hello, both", <nil>
	// b got "hello, both", <nil>
}
