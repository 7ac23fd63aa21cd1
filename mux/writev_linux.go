//go:build linux

package mux

import (
	"net"
	"syscall"
	"unsafe"
)

// rawWriter makes inline writes: one non-blocking writev on the socket,
// which never waits for it to drain (see Stream.write).
type rawWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // rawWriter.writev, made once
	iov []syscall.Iovec
	n   int
	err error
}

// newRawWriter returns a rawWriter for TCP and Unix connections, nil for
// others (TLS, pipes), which have no inline writes.
func newRawWriter(conn any) *rawWriter {
	var sc syscall.Conn
	switch c := conn.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.fn = w.writev
	return w
}

// try writes what the kernel takes of bufs at once, and returns how much.
func (w *rawWriter) try(bufs [][]byte) (int, error) {
	w.iov = w.iov[:0]
	for _, p := range bufs {
		if len(p) > 0 {
			w.iov = append(w.iov, syscall.Iovec{Base: &p[0], Len: uint64(len(p))})
		}
	}
	if len(w.iov) == 0 {
		return 0, nil
	}
	w.n, w.err = 0, nil
	if err := w.rc.Write(w.fn); err != nil {
		return 0, err
	}
	clear(w.iov)
	if w.err == syscall.EAGAIN {
		return 0, nil
	}
	return w.n, w.err
}

// writev is the RawConn callback: one system call; true means do not wait.
func (w *rawWriter) writev(fd uintptr) bool {
	for {
		r, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			w.err = errno
		} else {
			w.n = int(r)
		}
		return true
	}
}
