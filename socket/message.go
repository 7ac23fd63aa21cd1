package socket

// Message is a message with its routing information.
type Message struct {
	// Content is the payload.
	Content []byte
	// Source is the path the message came along, nearest hop first: the
	// id of the pipe it arrived on, then the path its sender gave it.
	// SendTo(msg.Source, reply) answers it. Empty on a message to send.
	Source Path
	// Destination is the rest of the path the message must still follow.
	// A switch forwards a message with a Destination along it.
	Destination Path
	// TTL is how many more hops the message may take. A received message
	// keeps what is left; once none is left the next receiver drops it
	// and counts it in Stats.TTLDropped, so a message never loops. Zero
	// on a message built by the caller means the socket's send TTL.
	TTL uint8

	recvd bool      // filled by a socket's RecvMsg: forward as is
	from  *sock     // the socket that received it
	words [4]uint32 // room for short paths without another allocation
}

// PipeID returns the id of the pipe the message arrived on, or 0 for a
// message that was not received.
func (m *Message) PipeID() uint32 {
	if len(m.Source) == 0 {
		return 0
	}
	return m.Source[0]
}

// Received reports whether m came from RecvMsg (and is forwarded as is by
// SendMsg: its Source kept and its TTL counted down) rather than built by
// the caller.
func (m *Message) Received() bool { return m.recvd }
