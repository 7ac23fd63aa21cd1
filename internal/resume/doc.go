// Package resume is a byte stream that outlives the connections under it:
// the foundation of resumable links and circuits (issue 18). A Conn is a
// net.Conn-like duplex stream over a current path (an io.ReadWriteCloser:
// a link's TLS connection, or a circuit's spliced stream); when the path
// breaks, the owner finds a new one and both ends call Resume on it, and
// the stream carries on from the last byte the peer received: no byte
// lost, duplicated or reordered, the application sees a pause. The package
// is pure: it knows nothing of the mesh, and holds no global state.
//
// # Numbering, acknowledgement, the bound
//
// The bytes of each direction are numbered from 0. The writer keeps every
// byte the peer has not acknowledged in a replay buffer of pooled blocks
// (memory follows the unacknowledged bytes; an empty buffer holds no
// block), bounded by Config.Buffer: Write blocks while it is full, as when
// a stream runs out of credit. The receiver acknowledges cumulatively,
// with an ACK carrying the count of bytes its application has read: at
// once when a quarter of Buffer (at most 256 KiB) is unacknowledged (so
// that a writer never stalls in steady state, and the replay blocks in use
// stay few), else Config.AckDelay after a read (so that an idle Conn holds
// no replay bytes), and with any data it sends meanwhile (12 bytes of the
// same write: a request-response exchange keeps its replay buffer nearly
// empty). As the acknowledgement follows what
// the application read, the replay bound is also the flow control of the
// Conn: a receiver buffers at most Buffer bytes, and both ends must use the
// same Buffer (a peer that sends beyond it breaks the protocol).
//
// # Paths, breaks, keep-alive
//
// On a path, frames have a 4-byte header (type, 24-bit length): DATA (up
// to 64 KiB of stream bytes), ACK, PING and PONG (keep-alive: a PING
// after Config.KeepAliveInterval of silence, and a path silent for
// Config.KeepAliveTimeout is broken), and CLOSE, the graceful end: Close
// sends what is left, then CLOSE, and waits for the peer's CLOSE, so that
// the peer reads everything, then io.EOF, and neither end takes the end for
// a break. docs/protocol.md ("resume") has the layouts.
//
// A path breaks on a read or write error, a keep-alive timeout, a protocol
// error, or Conn.Break. The Conn is then suspended: Read blocks, Write
// goes on filling the replay buffer until it is full, Config.OnBreak tells
// the owner, and the resume window (Config.ResumeWindow) starts. If no
// Resume succeeds within it, the Conn fails: Read and Write return an
// error wrapping ErrResumeTimeout. Close of a suspended Conn fails it too.
//
// Goroutines and copies. Resumability must cost little with nothing
// failing (issue 18: at most 5 % of throughput and round trip), so the
// paths are read and written much as mux sessions read and write theirs
// (internal/fastio):
//
//   - Reading: at most one goroutine reads a path, the holder of its read
//     token: a Read that found nothing buffered (a leader) reads the path
//     itself, so that the network poller wakes the goroutine that wants
//     the data, and a DATA payload goes straight into its buffer; on a
//     socket, the scatter read that takes the rest of a payload also takes
//     the next frame's header, so a bulk transfer costs one read system
//     call per frame and no copy. The path's reader goroutine holds the
//     token while no Read leads (after data was delivered it waits a grace
//     period for the next Read first), so that ACK, PING and CLOSE frames
//     and data nobody waits for yet are read, into the receive buffer,
//     which holds blocks only while it holds bytes. Leaders need a path with
//     SetReadDeadline, through which a leader is interrupted (the Conn's
//     read deadline, Close); on other paths the reader goroutine reads.
//   - Writing: Write copies into the replay buffer (the one copy of the
//     bytes written: it is what a resume replays) and, if no writer runs,
//     sends from its own goroutine: on a socket one non-blocking gathering
//     write of the headers and the payloads straight from the replay
//     buffer (what the socket does not take goes to a writer goroutine);
//     on TLS a small batch while the path is not backed up. Else a writer
//     goroutine runs while there is something to send, then exits. On a
//     path that cannot gather (TLS, a pipe), a batch goes out as whole TLS
//     records, a header and the start of a payload copied together, so
//     that a header costs no record of its own. Write waits while the path
//     is a batch (256 KiB) behind, so that the replay blocks sent are still
//     in the caches.
//
// A suspended, failed or closed Conn has no goroutine. Timers are
// time.AfterFunc.
//
// # The resume exchange
//
// The Conn's id is 16 random bytes chosen by New at one end, which the
// owner gives to the other end (NewPeer) in its own set-up. Before any
// resume, the owner gives both ends the same secret with SetKey: derived
// from the exported keying material of the end-to-end TLS session (a
// circuit) or of the link's TLS session, or, on an insecure mesh, a secret
// exchanged at set-up. On a new path, both ends at once:
//
//  1. send HELLO: magic, version, the id, a fresh 32-byte random nonce;
//  2. read the peer's HELLO: the id must be ours, its nonce not ours;
//  3. send RESUME: the id, a generation (one more than this end's previous
//     attempt), the bytes received so far, and
//     MAC = HMAC-SHA256(key, label || the message up to the MAC || the
//     sender's side || the sender's nonce || the receiver's nonce);
//  4. read the peer's RESUME and check its id, its MAC (under the peer's
//     side and the two nonces), a generation beyond the last one accepted,
//     and a received offset within [what the peer acknowledged, what we
//     sent]; then retransmit from the peer's offset and carry on.
//
// That is one round trip: each side's challenge (its nonce) goes out with
// its HELLO, before either RESUME, so a RESUME can answer both. (With the
// nonce in the RESUME itself, a third message would be needed to prove
// freshness, 1.5 round trips.) Anything that fails a check is refused: an
// error wrapping ErrResumeRefused and the reason, counted in
// Stats.Refused; the path is closed and the Conn stays suspended, so a
// forged resume cannot kill the real one, which may follow (several
// exchanges may even run at once; the first to succeed wins).
//
// Security. A relay on the old or the new path, or any member of the mesh,
// lacks the key: HMAC-SHA256 under a key it does not know cannot be forged,
// so it cannot take over a Conn or splice another stream into it. The id
// and both sides' labels are under the MAC and each Conn has its own key,
// so a member that owns another Conn (and knows that Conn's key) cannot
// use it on this one, and an end's own RESUME reflected back fails (the
// sender's side is under the MAC; a HELLO carrying our own nonce is
// refused). Every RESUME is bound to the receiver's fresh nonce of this
// exchange, so a RESUME captured from an earlier exchange fails the MAC
// when replayed; the strictly increasing generation refuses, besides, a
// stale state of a peer that does hold the key. A side sends its RESUME
// before it has checked the peer's: that reveals only a generation and an
// offset, under a MAC bound to this exchange's nonces, useless in any
// other. What the exchange authenticates is the resumption, not the bytes:
// a party that merely forwards the exchange is one more hop of the path,
// and the confidentiality and integrity of the stream come from the TLS
// session above it (a circuit's end-to-end TLS) or under it (a link's TLS
// connection, whose new handshake authenticates the peer before Resume).
// On an insecure mesh the key is no more secret than the mesh is.
//
// What is lost: the Conn's state lives in memory at the two ends; if
// either end restarts, or no path comes back within the resume window,
// the stream fails as it would without resumption.
package resume
