package mux

import (
	"context"
	"net"
	"sync"
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
// clients open. It returns when ln.Accept fails (for instance because ln was
// closed), after closing the sessions it started.
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
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
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
