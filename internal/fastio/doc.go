// Package fastio holds the two shortcuts that take goroutine hand-offs off
// the path of a request and its answer, for mux sessions and socket pipes
// alike:
//
//   - Writer: one non-blocking write system call from the caller's own
//     goroutine, so that a message on an idle connection goes out without
//     waking a writer goroutine (Linux; elsewhere NewWriter returns nil
//     and callers hand every write to their writer goroutine).
//   - Token: the right to read a connection, held by a background reader
//     goroutine or by a caller blocked waiting for data, which then reads
//     the connection itself, so that the network poller wakes it directly.
//
// The platform split lives here, in build tags, and nowhere else.
package fastio
