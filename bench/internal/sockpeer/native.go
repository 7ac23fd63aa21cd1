//go:build cgo

package sockpeer

/*
#cgo LDFLAGS: -ldl
#include "native.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// The libraries are loaded once per process (dlopen keeps them for the process anyway).
var (
	zmqOnce sync.Once
	zmqAPI  *C.bz_api
	nngOnce sync.Once
	nngAPI  *C.bn_api
)

func loadZMQ() *C.bz_api {
	zmqOnce.Do(func() { zmqAPI = C.bz_load() })
	return zmqAPI
}

func loadNNG() *C.bn_api {
	nngOnce.Do(func() { nngAPI = C.bn_load() })
	return nngAPI
}

func cbytes(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// withCString calls f with s as a C string, freed when f returns.
func withCString(s string, f func(*C.char) C.int) C.int {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}

func loopArgs(l Loop) (*C.int32_t, *C.uint64_t) {
	return (*C.int32_t)(unsafe.Pointer(l.Stop)), (*C.uint64_t)(unsafe.Pointer(l.Count))
}

// ---- libzmq ----

// ZMQ is libzmq (loaded at run time from libzmq.so.5) with its default options
// (but no linger on close).
func ZMQ() Peer {
	p := Peer{Name: "libzmq", Native: true, CloseAfterLoops: true}
	a := loadZMQ()
	if a == nil {
		p.Unavailable = "libzmq.so.5 not found (Debian: apt-get install libzmq5)"
		return p
	}
	v := int(C.bz_version(a))
	p.Name = fmt.Sprintf("libzmq %d.%d.%d", v/10000, v/100%100, v%100)
	p.New = func() (Instance, error) {
		ctx := C.bz_ctx_new(a)
		if ctx == nil {
			return nil, errors.New("zmq_ctx_new failed")
		}
		return &zmqInstance{a: a, ctx: ctx}, nil
	}
	return p
}

type zmqInstance struct {
	a   *C.bz_api
	ctx unsafe.Pointer
}

func (z *zmqInstance) err(e C.int) error {
	if e == 0 {
		return nil
	}
	if e == -1 {
		return ErrShortMessage
	}
	return fmt.Errorf("libzmq: %s", C.GoString(C.bz_strerror(z.a, e)))
}

func (z *zmqInstance) Close() error { return z.err(C.bz_ctx_term(z.a, z.ctx)) }

// Interrupt fails every blocked call of the context's sockets with ETERM.
func (z *zmqInstance) Interrupt() { C.bz_ctx_shutdown(z.a, z.ctx) }

// loopErr is the error of a loop; none once the harness has stopped it.
func (z *zmqInstance) loopErr(l Loop, e C.int) error {
	if l.stopped() {
		return nil
	}
	return z.err(e)
}

func (z *zmqInstance) Open(k Kind) (Socket, error) {
	types := map[Kind]C.int{Push: C.BZ_PUSH, Pull: C.BZ_PULL, Req: C.BZ_REQ, Rep: C.BZ_REP, Pub: C.BZ_PUB, Sub: C.BZ_SUB}
	t, ok := types[k]
	if !ok {
		return nil, fmt.Errorf("libzmq: no socket kind %v", k)
	}
	var e C.int
	s := C.bz_socket(z.a, z.ctx, t, &e)
	if s == nil {
		return nil, z.err(e)
	}
	return &zmqSocket{z: z, s: s}, nil
}

type zmqSocket struct {
	z *zmqInstance
	s unsafe.Pointer
}

func (s *zmqSocket) Listen(url string) error {
	return s.z.err(withCString(url, func(cs *C.char) C.int { return C.bz_bind(s.z.a, s.s, cs) }))
}

func (s *zmqSocket) Dial(url string) error {
	return s.z.err(withCString(url, func(cs *C.char) C.int { return C.bz_connect(s.z.a, s.s, cs) }))
}

func (s *zmqSocket) Subscribe(topic []byte) error {
	return s.z.err(C.bz_setopt(s.z.a, s.s, C.BZ_SUBSCRIBE, cbytes(topic), C.size_t(len(topic))))
}

func (s *zmqSocket) SendLoop(msg []byte, l Loop) error {
	stop, count := loopArgs(l)
	return s.z.loopErr(l, C.bz_send_loop(s.z.a, s.s, cbytes(msg), C.size_t(len(msg)), stop, count))
}

func (s *zmqSocket) RecvLoop(size int, l Loop) error {
	stop, count := loopArgs(l)
	return s.z.loopErr(l, C.bz_recv_loop(s.z.a, s.s, C.size_t(size), stop, count))
}

func (s *zmqSocket) ReqLoop(msg []byte, l Loop) error {
	stop, count := loopArgs(l)
	return s.z.loopErr(l, C.bz_req_loop(s.z.a, s.s, cbytes(msg), C.size_t(len(msg)), stop, count))
}

func (s *zmqSocket) RepLoop(size int, l Loop) error {
	stop, count := loopArgs(l)
	return s.z.loopErr(l, C.bz_rep_loop(s.z.a, s.s, C.size_t(size), stop, count))
}

func (s *zmqSocket) Close() error { return s.z.err(C.bz_close(s.z.a, s.s)) }

// ---- NNG ----

// NNG is NNG (loaded at run time from libnng.so.1) with its default options.
func NNG() Peer {
	p := Peer{Name: "NNG", Native: true}
	a := loadNNG()
	if a == nil {
		p.Unavailable = "libnng.so.1 not found (Debian: apt-get install libnng1)"
		return p
	}
	p.Name = "NNG " + C.GoString(C.bn_version(a))
	p.New = func() (Instance, error) { return nngInstance{a}, nil }
	return p
}

type nngInstance struct{ a *C.bn_api }

func (n nngInstance) err(e C.int) error {
	if e == 0 {
		return nil
	}
	if e == -1 {
		return ErrShortMessage
	}
	return fmt.Errorf("nng: %s", C.GoString(C.bn_strerror(n.a, e)))
}

func (nngInstance) Close() error { return nil }

// Interrupt does nothing: closing an NNG socket ends its blocked calls.
func (nngInstance) Interrupt() {}

func (n nngInstance) loopErr(l Loop, e C.int) error {
	if l.stopped() {
		return nil
	}
	return n.err(e)
}

func (n nngInstance) Open(k Kind) (Socket, error) {
	var id C.uint32_t
	if err := n.err(C.bn_open(n.a, C.int(k), &id)); err != nil {
		return nil, err
	}
	return &nngSocket{n: n, id: id}, nil
}

type nngSocket struct {
	n  nngInstance
	id C.uint32_t
}

func (s *nngSocket) Listen(url string) error {
	return s.n.err(withCString(url, func(cs *C.char) C.int { return C.bn_listen(s.n.a, s.id, cs) }))
}

func (s *nngSocket) Dial(url string) error {
	return s.n.err(withCString(url, func(cs *C.char) C.int { return C.bn_dial(s.n.a, s.id, cs) }))
}

func (s *nngSocket) Subscribe(topic []byte) error {
	return s.n.err(C.bn_subscribe(s.n.a, s.id, cbytes(topic), C.size_t(len(topic))))
}

func (s *nngSocket) SendLoop(msg []byte, l Loop) error {
	stop, count := loopArgs(l)
	return s.n.loopErr(l, C.bn_send_loop(s.n.a, s.id, cbytes(msg), C.size_t(len(msg)), stop, count))
}

func (s *nngSocket) RecvLoop(size int, l Loop) error {
	stop, count := loopArgs(l)
	return s.n.loopErr(l, C.bn_recv_loop(s.n.a, s.id, C.size_t(size), stop, count))
}

func (s *nngSocket) ReqLoop(msg []byte, l Loop) error {
	stop, count := loopArgs(l)
	return s.n.loopErr(l, C.bn_req_loop(s.n.a, s.id, cbytes(msg), C.size_t(len(msg)), stop, count))
}

func (s *nngSocket) RepLoop(size int, l Loop) error {
	stop, count := loopArgs(l)
	return s.n.loopErr(l, C.bn_rep_loop(s.n.a, s.id, C.size_t(size), stop, count))
}

func (s *nngSocket) Close() error { return s.n.err(C.bn_close(s.n.a, s.id)) }
