// Package mux multiplexes many independent streams over one ordered,
// reliable connection: a TCP or TLS connection, a pipe, anything that is an
// io.ReadWriteCloser.
//
// What lives where. session.go holds the Session, whose parts are types of
// their own, each in its file, and how a session ends; table.go the stream
// table, opening and accepting; stream.go the Stream, and what it does with
// the frames it receives; flow.go credit in both directions and all its
// policy: what a frame costs, how windows grow, when credit goes back;
// writer.go the send queue and the writer goroutine; reader.go the frame
// reader and the reader goroutine; lead.go the read token and the Reads
// that read the connection themselves; splice.go splices; frame.go the wire
// format; health.go keep-alives, the write timeout and pings; closewait.go
// the streams closed and waiting for their peer's FIN; slab.go, pool.go and
// queue.go the memory of received data. A DATA frame goes one way:
// reader.go reads it, stream.go queues it for its reader, flow.go decides
// when its credit goes back, writer.go sends that WINDOW, frame.go encodes
// it; a splice forwards what its streams got after each read.
//
// A Session runs on one connection. Either side may open streams; a stream
// costs no round trip to open, so data may follow the open at once. Each
// *Stream is a net.Conn (Read, Write, Close, deadlines) with TCP's half-close
// (CloseWrite), and also a message stream: Send queues one whole message and
// returns at once, Recv returns the next whole message (RecvInto into the
// caller's buffer, allocating nothing). Both views share one framing, in
// which a data frame can end a message.
//
//	sess, err := mux.Dial(ctx, "tcp", "10.0.0.1:7000", nil)
//	st, err := sess.OpenStream(ctx)
//	st.Write([]byte("hello"))
//
//	err := mux.Serve(ln, nil, func(st *mux.Stream) { io.Copy(st, st); st.Close() })
//
// A session has one reader and one writer goroutine and none per stream. The
// writer gathers the frames of many streams into few system calls, and sends
// control frames (window updates, pings, resets) ahead of bulk data. Two
// shortcuts take the goroutine hand-offs off the path of a request and its
// answer: a Write that finds the connection idle writes it itself, with no
// copy, in one non-blocking system call (on Linux; what the kernel does not
// take at once goes to the writer); and a Read that finds its stream empty,
// on a connection with read deadlines (any net.Conn), may read the
// connection itself for all streams, so that the network poller wakes it
// directly (see lead.go). Such a Read takes its stream's next payload
// straight into its own buffer, and on TCP and Unix connections the same
// system call (a readv) also takes the next frame's header: a bulk transfer
// costs one read per frame and no copy beyond the kernel's. Over TLS the
// writer hands the connection a batch in one piece, so that the records fit
// the batch, not each frame; the mesh's TLS links go further and write the
// sealed records of a batch themselves, with one system call, inline too.
//
// Every stream has a credit window and the whole session has a cap on the
// bytes received but not yet read; windows grow only within half of that cap,
// so streams that nobody reads leave the rest to the others (with the
// defaults, 64 unread streams still leave 4 MiB of 16). A session also caps
// what it queues for sending, whatever credit the peer grants, so a peer can
// never make a session buffer more than its Config allows. Small received
// payloads are copied one after another into 16 KiB slabs rather than into a
// buffer each, and a session holds at most 64 slabs (1 MiB) whatever the
// peer sends. Every limit is a Config field with a safe default.
//
// A session may have a second class of streams (Config.ClassWindow,
// OpenClassStream, AcceptClassStream): class streams draw on a credit of
// their own rather than on the session's, and have their own accept queue
// and stream bound, so that class streams nobody reads or accepts never
// hold up the others, nor the other way round, as if each class had a
// session to itself. A session without a class speaks exactly the
// protocol of one before classes.
//
// Close delivers: it flushes what was written before it, half-closes the
// connection and waits (within Config.CloseTimeout) for the peer to close its
// end, so the peer's kernel never discards our last bytes with a reset.
// Splice joins two streams for a relay, forwarding inside the sessions' own
// goroutines.
//
// The wire format is specified in docs/protocol.md of the plexus repository.
package mux
