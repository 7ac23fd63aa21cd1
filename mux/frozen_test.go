//go:build unix

package mux

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

const frozenPeerEnv = "PLEXUS_MUX_FROZEN_PEER"

// TestFrozenPeerHelper is the peer of TestFrozenPeer, run in a process of
// its own: an echo server on one session.
func TestFrozenPeerHelper(t *testing.T) {
	addr := os.Getenv(frozenPeerEnv)
	if addr == "" {
		t.Skip("the peer process of TestFrozenPeer")
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Server(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := s.AcceptStream(context.Background())
		if err != nil {
			return
		}
		go func() {
			io.Copy(st, st)
			st.Close()
		}()
	}
}

// TestFrozenPeer: a peer process stopped with SIGSTOP (its kernel still
// takes bytes, it answers nothing) is declared dead by the keep-alive, and
// a writer blocked on its credit and a reader waiting for it both return.
func TestFrozenPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFrozenPeerHelper$")
	cmd.Env = append(os.Environ(), frozenPeerEnv+"="+ln.Addr().String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Client(conn, &Config{KeepAliveInterval: 200 * time.Millisecond, KeepAliveTimeout: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	st, err := cs.OpenStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
		t.Fatalf("echo before the freeze: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(make([]byte, 64<<20)) // far more than credit and kernel buffers
		werr <- err
	}()
	_, rerr := io.ReadAll(st) // the echo of it never comes
	select {
	case err := <-werr:
		if !errors.Is(err, ErrKeepAliveTimeout) {
			t.Fatalf("Write = %v, want ErrKeepAliveTimeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the writer is still blocked")
	}
	if !errors.Is(rerr, ErrKeepAliveTimeout) {
		t.Fatalf("Read = %v, want ErrKeepAliveTimeout", rerr)
	}
}
