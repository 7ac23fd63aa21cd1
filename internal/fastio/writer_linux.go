//go:build linux

package fastio

import (
	"syscall"
	"unsafe"
)

// newSocketWriter returns a Writer for a *net.TCPConn or *net.UnixConn,
// nil for anything else (TLS, pipes), which has no non-blocking writes.
func newSocketWriter(conn any) *Writer {
	rc := rawConnOf(conn)
	if rc == nil {
		return nil
	}
	w := &Writer{}
	w.w.rc = rc
	w.w.fn = w.w.writev
	return w
}

// rawWriter is the Linux writev.
type rawWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // rawWriter.writev, made once
	iov []syscall.Iovec
	n   int
	err error
}

func (w *rawWriter) try(bufs [][]byte) (int, error) {
	w.iov = appendIovecs(w.iov[:0], bufs)
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

// appendIovecs appends an iovec for each non-empty buffer of bufs.
func appendIovecs(iov []syscall.Iovec, bufs [][]byte) []syscall.Iovec {
	for _, p := range bufs {
		if len(p) > 0 {
			v := syscall.Iovec{Base: &p[0]}
			v.SetLen(len(p)) // 32 bits on 386 and arm, 64 elsewhere
			iov = append(iov, v)
		}
	}
	return iov
}
