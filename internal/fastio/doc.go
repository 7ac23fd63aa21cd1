// Package fastio holds the shortcuts that take goroutine hand-offs and
// system calls off the path of a request and its answer, or of a bulk
// transfer, for mux sessions and socket pipes alike:
//
//   - Writer: one non-blocking write system call from the caller's own
//     goroutine, so that a message on an idle connection goes out without
//     waking a writer goroutine (Linux; elsewhere NewWriter returns nil
//     and callers hand every write to their writer goroutine).
//   - Reader: a scatter read (readv) from the caller's goroutine, so that
//     one system call takes the rest of a frame's payload into its own
//     buffer and the next frame's header into another (Linux; elsewhere
//     NewReader returns nil and callers read the usual way).
//   - Token: the right to read a connection, held by a background reader
//     goroutine or by a caller blocked waiting for data, which then reads
//     the connection itself, so that the network poller wakes it directly.
//
// The platform split lives here, in build tags, and nowhere else.
package fastio
