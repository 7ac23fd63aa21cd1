// Package wire holds the codecs of the mesh's link protocol: the control
// messages of a link's first stream (handshake.go: their framing, the
// hello, the refusal, and the attach preamble) and the header that opens
// every other stream (header.go: a connection, or a circuit setup, with
// the rules a setup's path must follow). docs/protocol.md specifies them.
//
// It holds no state and does no I/O beyond the reader it is given; the
// records that follow the handshake are package linkstate's, the
// revocation lists package mesh's. Package mesh exports Version. It
// imports only pure parts of the standard library and mesh/internal/base.
package wire
