// Package ipc is the ipc:///path transport: SP over Unix domain sockets,
// wire compatible with NNG and nanomsg (each message carries a one-byte
// type before its length). The socket file is removed when the listener
// closes. Importing the package registers the scheme (transport/all
// imports it with the others).
package ipc

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/plexusnet/plexus/transport"
	"github.com/plexusnet/plexus/transport/spstream"
)

func init() { transport.Register(Transport{}) }

// Transport implements transport.Transport for ipc://.
type Transport struct{}

// Scheme implements transport.Transport.
func (Transport) Scheme() string { return "ipc" }

// Path returns the file system path of an ipc URL: ipc:///tmp/x.sock is
// /tmp/x.sock and ipc://x.sock is the relative path x.sock.
func Path(u *url.URL) (string, error) {
	p := u.Host + u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if p == "" {
		return "", fmt.Errorf("%w: ipc:// needs a path, e.g. ipc:///tmp/app.sock", transport.ErrBadURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%w: %s: only ipc://path is allowed", transport.ErrBadURL, u.Redacted())
	}
	return p, nil
}

// Dial implements transport.Transport.
func (Transport) Dial(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Pipe, error) {
	path, err := Path(u)
	if err != nil {
		return nil, err
	}
	p, err := spstream.Dial(ctx, cfg, spstream.FramingIPC, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	})
	if err != nil {
		return nil, err // not a nil *spstream.Pipe in a non-nil interface
	}
	return p, nil
}

// Listen implements transport.Transport. A stale socket file that nobody
// listens on any more is replaced; a live one is ErrAddrInUse.
func (Transport) Listen(ctx context.Context, u *url.URL, cfg *transport.Config) (transport.Listener, error) {
	path, err := Path(u)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil && isStale(path) {
		os.Remove(path)
		ln, err = lc.Listen(ctx, "unix", path)
	}
	if err != nil {
		if _, serr := os.Stat(path); serr == nil {
			return nil, fmt.Errorf("%w: %s: %v", transport.ErrAddrInUse, path, err)
		}
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return spstream.NewListener(ln, cfg, spstream.FramingIPC, "ipc://"+path), nil
}

// isStale reports whether path is a socket file nobody accepts on.
func isStale(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return false
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		return true
	}
	c.Close()
	return false
}
