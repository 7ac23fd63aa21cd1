package mux

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Dial connects to addr on the named network (as net.Dialer.DialContext
// does) and starts the client side of a session on the connection.
func Dial(ctx context.Context, network, addr string, cfg *Config) (*Session, error) {
	if _, err := cfg.normalize(); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	s, err := Client(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Serve accepts connections on ln, runs the server side of a session on
// each, and calls handler in a goroutine of its own for every stream the
// clients open. A temporary Accept error (out of file descriptors, say) is
// retried after a pause that doubles from 5 ms up to 1 s, as net/http does;
// any other ends Serve (for instance because ln was closed), which returns
// it after closing the sessions it started.
func Serve(ln net.Listener, cfg *Config, handler func(*Stream)) error {
	if _, err := cfg.normalize(); err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		sessions = make(map[*Session]struct{})
		wg       sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for s := range sessions {
			s.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var pause time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if !errors.As(err, &te) || !te.Temporary() {
				return err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		s, err := Server(conn, cfg)
		if err != nil {
			conn.Close()
			return err
		}
		mu.Lock()
		sessions[s] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				st, err := s.AcceptStream(context.Background())
				if err != nil {
					break
				}
				go handler(st)
			}
			mu.Lock()
			delete(sessions, s)
			mu.Unlock()
			s.Close()
		}()
	}
}
