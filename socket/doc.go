// Package socket provides message sockets: a Socket sends and receives
// whole messages to and from any number of peers over inproc, ipc, tcp,
// tls+tcp, ws (and any registered transport), and is the base the
// scalability protocols of package protocol/... are built on.
//
// What lives where: this package is the core, and implements every method
// of Socket once, for every protocol: sender.go and recv.go hold the sends
// and receives, send.go the send queues, pipe.go a pipe's reader and
// writer, endpoint.go Dial and Listen, header.go and path.go the wire
// header and paths, socket.go New and Close, switch.go StartSwitch. A
// protocol is a description, Protocol (protocol.go: its SP ids, its
// header, which sends and receives it has), and, when it keeps state, a
// Handler with hooks the core calls (handler.go: before a send, on a
// received message, on a pipe joining or leaving, on close) and its own
// typed options (HandlerOption). The protocols of NNG are in
// protocol/..., one package each; docs/socket.md, "Writing a protocol",
// shows how to write another.
//
// The package registers no transport: a program imports those it uses
// (transport/tcp, ...) or all of them with transport/all; mesh:// is given
// to a socket with WithTransport.
//
// A Socket is stateless and its send and receive sides are independent:
// any number of goroutines may call Send and Recv at the same time. It is
// made of three parts:
//
//   - a Connector dials and listens on URLs and keeps the resulting pipes
//     (connections to one peer each) up, redialing with exponential backoff
//     when a dialed peer goes away; it accepts any number of peers or at
//     most N (WithMaxPeers);
//   - a Sender sends to one peer chosen fairly (Send), to all peers
//     (SendAll), along a path (SendTo), or refuses to send (WithNoSend);
//   - a Receiver receives from all peers (Recv), or discards everything
//     (WithNoRecv).
//
// Every received Message carries its Source path: the ids of the pipes it
// came through, nearest first. Replying with SendTo(msg.Source, reply)
// retraces that path through any number of switches (StartSwitch). On the
// SP protocols this path is exactly the backtrace of nanomsg and NNG, so a
// switch between a rep-side and a req-side socket behaves like an NNG
// device.
//
// No peer can lock others out, stall the socket or make it grow without
// bound: listeners handshake every connection at once within the
// handshake timeout (WithHandshakeTimeout) and bound the handshakes
// pending, overall and per source address; each listener keeps at most
// WithMaxPeersPerListener pipes; receive buffers grow only as a message's
// bytes arrive; a send to one pipe never waits long for a peer that does
// not read (ErrPeerFull); and WithIdleTimeout sheds accepted peers that
// stay silent. docs/socket.md, "Limits", has the numbers.
//
// Sending never allocates per message: Send copies the message into a
// per-socket queue of encoded frames, and one writer per pipe takes the
// whole queue at once and writes it with one system call. Receiving reads
// large chunks, parses many messages per read, and hands them to Recv in
// batches.
package socket
