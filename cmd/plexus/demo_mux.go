package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/plexusnet/plexus/mux"
)

// demoMux: a client and a server session over loopback TCP; thousands of
// streams opened at once, a byte stream and message streams.
func demoMux(ctx context.Context, t *tour) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() {
		served <- mux.Serve(ln, nil, serveEcho)
	}()
	defer func() {
		ln.Close()
		<-served
	}()
	sess, err := mux.Dial(ctx, "tcp", ln.Addr().String(), nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	// Thousands of streams at once, each an echo of 1 KiB.
	const n = 5000
	t.heading(fmt.Sprintf("%d streams at once over one TCP connection: each conversation gets a stream of its own, without a connection (and a handshake) of its own.", n))
	t.say("an echo server on %v; the client's session, from %v, is its only TCP connection", ln.Addr(), sess.LocalAddr())
	payload := bytes.Repeat([]byte("plexus!\n"), 128)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	ok := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := echo(ctx, sess, payload)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			ok++
		}()
	}
	wg.Wait()
	d := time.Since(start)
	t.say("%s opened at once, each sent 1 KiB and got it back: %d ok in %v (%s)",
		plural(n, "stream"), ok, d.Round(time.Millisecond), rate(n, d, "streams"))
	if failed != nil {
		return failed
	}

	// One byte stream, bulk.
	const bulk = 256 << 20
	t.heading("One stream carries bulk bytes at the speed of the connection, so a large transfer needs no connection of its own.")
	st, err := open(ctx, sess, "bytes")
	if err != nil {
		return err
	}
	start = time.Now()
	go func() {
		buf := make([]byte, 64<<10)
		for sent := 0; sent < bulk; sent += len(buf) {
			if _, err := st.Write(buf); err != nil {
				return
			}
		}
		st.CloseWrite()
	}()
	got, err := io.Copy(io.Discard, st)
	d = time.Since(start)
	st.Close()
	if err != nil || got != bulk {
		return fmt.Errorf("bulk echo: %d bytes, %v", got, err)
	}
	t.say("byte stream: %d MiB there and back in %v (%.0f MB/s each way)",
		bulk>>20, d.Round(time.Millisecond), float64(bulk)/d.Seconds()/1e6)

	// Message streams: Send queues and returns, Recv returns whole messages.
	const streams, msgs = 8, 100000
	t.heading("Message streams keep message boundaries (Send, Recv), for protocols made of messages rather than bytes.")
	start = time.Now()
	errc := make(chan error, streams)
	for i := 0; i < streams; i++ {
		go func() { errc <- messages(ctx, sess, msgs) }()
	}
	for i := 0; i < streams; i++ {
		if err := <-errc; err != nil {
			return err
		}
	}
	d = time.Since(start)
	t.say("message streams: %s × %d messages of 64 B, each echoed whole and in order, in %v (%s each way)",
		plural(streams, "stream"), msgs, d.Round(time.Millisecond), rate(streams*msgs, d, "messages"))

	t.heading("The session measures its round trip (Ping), and a stream, once closed at both ends, is gone: nothing is left open.")
	rtt, err := sess.Ping(ctx)
	if err != nil {
		return err
	}
	t.say("round trip over the connection: %v; streams still open: %d of the %d opened", rtt.Round(time.Microsecond), sess.NumStreams(), n+1+streams)
	return nil
}

// serveEcho is the demo server's stream handler. The first message names
// the mode: "bytes" echoes the rest of the stream as bytes, "msgs" echoes
// whole messages.
func serveEcho(st *mux.Stream) {
	defer st.Close()
	mode, err := st.Recv()
	if err != nil {
		return
	}
	switch string(mode) {
	case "bytes":
		io.Copy(st, st)
	case "msgs":
		for {
			m, err := st.Recv()
			if err != nil {
				return
			}
			if st.Send(m) != nil {
				return
			}
		}
	}
}

// open opens a stream in the given echo mode.
func open(ctx context.Context, sess *mux.Session, mode string) (*mux.Stream, error) {
	st, err := sess.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send([]byte(mode)); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// echo opens a stream, writes p, half-closes and checks the echo.
func echo(ctx context.Context, sess *mux.Session, p []byte) error {
	st, err := open(ctx, sess, "bytes")
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Write(p); err != nil {
		return err
	}
	st.CloseWrite()
	got, err := io.ReadAll(st)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, p) {
		return errors.New("echo differs")
	}
	return nil
}

// messages sends n messages of 64 bytes on a new stream and receives the
// echo, message by message.
func messages(ctx context.Context, sess *mux.Session, n int) error {
	st, err := open(ctx, sess, "msgs")
	if err != nil {
		return err
	}
	defer st.Close()
	go func() {
		msg := make([]byte, 64)
		for i := 0; i < n; i++ {
			msg[0] = byte(i)
			if st.Send(msg) != nil {
				return
			}
		}
		st.CloseWrite()
	}()
	for i := 0; i < n; i++ {
		m, err := st.Recv()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if len(m) != 64 || m[0] != byte(i) {
			return fmt.Errorf("message %d: %d bytes, out of order or cut", i, len(m))
		}
	}
	if _, err := st.Recv(); err != io.EOF {
		return fmt.Errorf("after the last message: %v", err)
	}
	return nil
}
