// Package ws is the ws://host:port/path transport: SP over WebSocket, wire
// compatible with NNG's ws transport. Importing the package registers the
// ws scheme:
//
//	import _ "github.com/plexusnet/plexus/transport/ws"
//
// As in NNG, there is no SP header on a websocket: the protocol is the
// websocket subprotocol "<name>.sp.nanomsg.org". A dialer asks for its
// peer's protocol (a req socket asks for "rep.sp.nanomsg.org") and a
// listener only accepts a request for its own, answering 400 otherwise.
// Each SP message is one binary websocket message, without a length
// prefix. The websocket implementation is github.com/coder/websocket.
package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/plexusnet/plexus/transport"
)

func init() { transport.Register(Transport{}) }

// SubprotocolSuffix follows the protocol name in a websocket subprotocol.
const SubprotocolSuffix = ".sp.nanomsg.org"

// Subprotocol returns the websocket subprotocol name of p.
func Subprotocol(p transport.Proto) string { return p.Name + SubprotocolSuffix }

// Transport implements transport.Transport for ws://.
type Transport struct{}

// Scheme implements transport.Transport.
func (Transport) Scheme() string { return "ws" }

func check(u *url.URL) (host, path string, err error) {
	if u.Host == "" || u.Port() == "" {
		return "", "", fmt.Errorf("%w: %s: want ws://host:port/path", transport.ErrBadURL, u.Redacted())
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return u.Host, path, nil
}

// Dial implements transport.Transport.
func (Transport) Dial(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Pipe, error) {
	if _, _, err := check(u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Handshake())
	defer cancel()
	want := Subprotocol(cfg.Peer)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	c, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:   hc,
		Subprotocols: []string{want},
	})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusBadRequest {
			return nil, fmt.Errorf("%w: %s refused subprotocol %s: %v", transport.ErrProtocolMismatch, u.Redacted(), want, err)
		}
		return nil, fmt.Errorf("ws: dial %s: %w", u.Redacted(), err)
	}
	if !strings.EqualFold(c.Subprotocol(), want) {
		c.Close(websocket.StatusPolicyViolation, "subprotocol")
		return nil, fmt.Errorf("%w: %s answered subprotocol %q, want %q", transport.ErrProtocolMismatch, u.Redacted(), c.Subprotocol(), want)
	}
	return newPipe(c, cfg, "", u.Host), nil
}

// Listen implements transport.Transport. It serves the URL's path on its
// own HTTP server.
func (Transport) Listen(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Listener, error) {
	host, path, err := check(u)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	l := &listener{
		cfg:   *cfg,
		path:  path,
		want:  Subprotocol(cfg.Self),
		ready: make(chan *pipe),
		done:  make(chan struct{}),
		addr:  "ws://" + ln.Addr().String() + path,
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: cfg.Handshake(),
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = l.srv.Serve(ln)
	}()
	return l, nil
}

type listener struct {
	cfg   transport.Config
	path  string
	want  string
	srv   *http.Server
	ready chan *pipe
	done  chan struct{}
	addr  string
	once  sync.Once
	wg    sync.WaitGroup
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != l.path {
		http.NotFound(w, r)
		return
	}
	ok := false
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), l.want) {
				ok = true
			}
		}
	}
	if !ok {
		http.Error(w, "plexus: websocket subprotocol must be "+l.want, http.StatusBadRequest)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{l.want}})
	if err != nil {
		return
	}
	p := newPipe(c, &l.cfg, r.Host, r.RemoteAddr)
	select {
	case l.ready <- p:
	case <-l.done:
		p.Close()
	}
}

func (l *listener) Accept() (transport.Pipe, error) {
	select {
	case p := <-l.ready:
		return p, nil
	case <-l.done:
		return nil, transport.ErrClosed
	}
}

func (l *listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.srv.Close()
		l.wg.Wait()
	})
	return err
}

func (l *listener) Addr() string { return l.addr }

// pipe is one websocket connection carrying SP messages.
type pipe struct {
	c      *websocket.Conn
	peer   transport.Proto
	max    int
	local  string
	remote string
	buf    []byte
	once   sync.Once
}

func newPipe(c *websocket.Conn, cfg *transport.Config, local, remote string) *pipe {
	c.SetReadLimit(int64(cfg.MaxRecv()))
	return &pipe{c: c, peer: cfg.Peer, max: cfg.MaxRecv(), local: local, remote: remote}
}

// Send writes each frame of the batch as one binary websocket message.
func (p *pipe) Send(frames ...[]byte) error {
	for _, f := range frames {
		for len(f) > 0 {
			payload, rest, ok := transport.NextFrame(f)
			if !ok {
				return fmt.Errorf("%w: malformed frame batch", transport.ErrProtocol)
			}
			if err := p.c.Write(context.Background(), websocket.MessageBinary, payload); err != nil {
				return fmt.Errorf("ws: write: %w", err)
			}
			f = rest
		}
	}
	return nil
}

// Recv reads one websocket message into a reused buffer.
func (p *pipe) Recv() ([]byte, error) {
	_, r, err := p.c.Reader(context.Background())
	if err != nil {
		return nil, p.readErr(err)
	}
	b := p.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, p.readErr(err)
		}
	}
	if cap(b) <= 1<<20 {
		p.buf = b
	} else {
		p.buf = nil
	}
	return b, nil
}

func (p *pipe) readErr(err error) error {
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return fmt.Errorf("%w: %v", transport.ErrMsgTooLarge, err)
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return io.EOF
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("ws: read: %w", err)
}

func (p *pipe) Buffered() bool        { return false }
func (p *pipe) Peer() transport.Proto { return p.peer }
func (p *pipe) LocalAddr() string     { return p.local }
func (p *pipe) RemoteAddr() string    { return p.remote }
func (p *pipe) Close() error {
	p.once.Do(func() {
		// A prompt close: the socket layer has already flushed what it
		// wanted to send, and a close handshake could wait for a peer
		// that is gone.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = p.c.Close(websocket.StatusNormalClosure, "")
		}()
		t := time.NewTimer(time.Second)
		select {
		case <-done:
			t.Stop()
		case <-t.C:
			_ = p.c.CloseNow()
			<-done
		}
	})
	return nil
}
