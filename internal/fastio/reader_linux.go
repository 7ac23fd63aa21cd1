//go:build linux

package fastio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// NewReader returns a Reader for a *net.TCPConn or *net.UnixConn, nil for
// anything else (TLS, pipes).
func NewReader(conn any) *Reader {
	rc := rawConnOf(conn)
	if rc == nil {
		return nil
	}
	r := &Reader{}
	r.r.rc = rc
	r.r.fn = r.r.readv
	if c, ok := conn.(net.Conn); ok {
		r.r.laddr, r.r.raddr = c.LocalAddr(), c.RemoteAddr()
	}
	return r
}

// rawConnOf returns the raw connection of conn if it is a TCP or Unix
// connection, else nil.
func rawConnOf(conn any) syscall.RawConn {
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
	return rc
}

// rawReader is the Linux readv.
type rawReader struct {
	rc           syscall.RawConn
	laddr, raddr net.Addr              // for errors, as a Read of the connection gives them
	fn           func(fd uintptr) bool // rawReader.readv, made once
	iov          []syscall.Iovec
	n            int
	err          error
}

func (r *rawReader) read(bufs [][]byte) (int, error) {
	r.iov = appendIovecs(r.iov[:0], bufs)
	if len(r.iov) == 0 {
		return 0, nil
	}
	r.n, r.err = 0, nil
	err := r.rc.Read(r.fn) // waits while readv says EAGAIN, until the deadline
	clear(r.iov)
	switch {
	case err != nil:
		return 0, err
	case r.err != nil:
		// As the connection's own Read reports it, so that errors.As finds
		// a *net.OpError and errors.Is the errno.
		network := ""
		if r.laddr != nil {
			network = r.laddr.Network()
		}
		return 0, &net.OpError{Op: "read", Net: network, Source: r.laddr, Addr: r.raddr, Err: os.NewSyscallError("readv", r.err)}
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// readv is the RawConn callback: one system call; false means wait until
// the socket is readable.
func (r *rawReader) readv(fd uintptr) bool {
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&r.iov[0])), uintptr(len(r.iov)))
		switch errno {
		case 0:
			r.n = int(n)
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.err = errno
		}
		return true
	}
}
