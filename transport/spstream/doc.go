// Package spstream speaks the SP protocol of nanomsg and NNG over any
// ordered, reliable byte stream (a net.Conn): the connection handshake and
// the length-prefixed message framing. The tcp, ipc and tls+tcp transports
// are thin wrappers around it, and a transport over another kind of stream
// (an overlay stream, a pipe) needs nothing else.
//
// The handshake is eight bytes each way: 0x00 'S' 'P' 0x00, the sender's
// 16-bit big-endian protocol id, and two zero bytes. Each side checks the
// other's header and protocol id before any message flows.
//
// Messages then flow as frames. With FramingTCP a frame is a 64-bit
// big-endian payload length followed by the payload. FramingIPC puts a
// one-byte message type (always 0x01) before the length, as NNG and nanomsg
// do on Unix domain sockets.
package spstream
