package mux

import (
	"fmt"
	"log/slog"
	"time"
)

// Config holds the limits and timers of a session. A nil *Config, or a zero
// field, means the default shown beside the field. The flow-control fields
// are counted in credit: a DATA frame costs its payload plus 32 bytes when it
// carries a payload or ends a message (see docs/protocol.md).
type Config struct {
	MaxStreams        int           // open streams per session, both directions together (65536)
	AcceptBacklog     int           // streams the peer opened that are not yet accepted; the peer's OpenStream waits beyond it (1024)
	StreamWindow      uint32        // initial receive window of each stream, at least 64 KiB; a stream read fast, or limited by its window, grows it up to SessionWindow/4 (256 KiB)
	SessionWindow     uint32        // cap on received-but-unread bytes of the whole session, at least 256 KiB and StreamWindow (16 MiB)
	MaxFrameSize      uint32        // largest frame payload sent or accepted, 16 KiB to 16 MiB-1 (64 KiB)
	MaxMessageSize    int           // largest message Recv assembles (16 MiB)
	KeepAliveInterval time.Duration // ping after this much silence; negative disables keep-alive (30s)
	KeepAliveTimeout  time.Duration // no frame for this long: the session is dead (90s)
	WriteTimeout      time.Duration // a connection write blocked this long fails the session (30s)
	Logger            *slog.Logger  // nil: no logging
}

// Defaults of the Config fields.
const (
	DefaultMaxStreams        = 65536
	DefaultAcceptBacklog     = 1024
	DefaultStreamWindow      = 256 << 10
	DefaultSessionWindow     = 16 << 20
	DefaultMaxFrameSize      = 64 << 10
	DefaultMaxMessageSize    = 16 << 20
	DefaultKeepAliveInterval = 30 * time.Second
	DefaultKeepAliveTimeout  = 90 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
)

// normalize returns a copy of c with defaults filled in, or an error that
// names the first field out of range.
func (c *Config) normalize() (Config, error) {
	var n Config
	if c != nil {
		n = *c
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&n.MaxStreams, DefaultMaxStreams)
	def(&n.AcceptBacklog, DefaultAcceptBacklog)
	def(&n.MaxMessageSize, DefaultMaxMessageSize)
	if n.StreamWindow == 0 {
		n.StreamWindow = DefaultStreamWindow
	}
	if n.SessionWindow == 0 {
		n.SessionWindow = max(DefaultSessionWindow, n.StreamWindow)
	}
	if n.MaxFrameSize == 0 {
		n.MaxFrameSize = DefaultMaxFrameSize
	}
	if n.KeepAliveInterval == 0 {
		n.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if n.KeepAliveTimeout == 0 {
		n.KeepAliveTimeout = max(DefaultKeepAliveTimeout, 2*n.KeepAliveInterval)
	}
	if n.WriteTimeout == 0 {
		n.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case n.MaxStreams < 0:
		return n, fmt.Errorf("mux: Config.MaxStreams %d is negative", n.MaxStreams)
	case n.AcceptBacklog < 0 || n.AcceptBacklog > maxWindow:
		return n, fmt.Errorf("mux: Config.AcceptBacklog %d is outside [1, %d]", n.AcceptBacklog, maxWindow)
	case n.MaxMessageSize < 0:
		return n, fmt.Errorf("mux: Config.MaxMessageSize %d is negative", n.MaxMessageSize)
	case n.StreamWindow < minStreamWindow || n.StreamWindow > maxWindow:
		return n, fmt.Errorf("mux: Config.StreamWindow %d is outside [%d, %d]", n.StreamWindow, minStreamWindow, maxWindow)
	case n.SessionWindow < minSessionWindow || n.SessionWindow > maxWindow || n.SessionWindow < n.StreamWindow:
		return n, fmt.Errorf("mux: Config.SessionWindow %d is outside [max(%d, StreamWindow), %d]", n.SessionWindow, minSessionWindow, maxWindow)
	case n.MaxFrameSize < minFrameSize || n.MaxFrameSize > maxFrameLimit:
		return n, fmt.Errorf("mux: Config.MaxFrameSize %d is outside [%d, %d]", n.MaxFrameSize, minFrameSize, maxFrameLimit)
	case n.KeepAliveTimeout < 0:
		return n, fmt.Errorf("mux: Config.KeepAliveTimeout %v is negative", n.KeepAliveTimeout)
	case n.WriteTimeout < 0:
		return n, fmt.Errorf("mux: Config.WriteTimeout %v is negative", n.WriteTimeout)
	}
	return n, nil
}
