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
	MaxStreams         int           // open streams per session, both directions together, class streams apart (65536)
	AcceptBacklog      int           // streams the peer opened that are not yet accepted; the peer's OpenStream waits beyond it (1024)
	StreamWindow       uint32        // initial receive window of each stream, at least 64 KiB; a stream read fast, or limited by its window, grows it (64 KiB)
	SessionWindow      uint32        // cap on received-but-unread bytes of the whole session, at least 256 KiB and 4 × StreamWindow (16 MiB)
	MaxFrameSize       uint32        // largest frame payload sent or accepted, 16 KiB to 16 MiB-1 (64 KiB)
	MaxMessageSize     int           // largest message Recv assembles (16 MiB)
	SendBuffer         int           // bytes of stream data queued for the connection but not yet written; Write and Send wait beyond it (4 MiB)
	StreamCloseTimeout time.Duration // after Close, how long a stream waits for the peer's FIN before it is reset and forgotten (30s)
	CloseTimeout       time.Duration // how long Session.Close waits to flush what is queued and for the peer to close its end (1s)
	KeepAliveInterval  time.Duration // ping after this much silence (10s, or KeepAliveTimeout/3); negative disables keep-alive
	KeepAliveTimeout   time.Duration // no frame for this long: the session is dead (30s, or 3 × KeepAliveInterval); must exceed KeepAliveInterval
	WriteTimeout       time.Duration // a connection write blocked this long fails the session (30s)
	Logger             *slog.Logger  // nil: no logging

	// ClassWindow gives the session a second class of streams (see
	// Session.OpenClassStream): their data is charged to a credit of its
	// own, this window, rather than to SessionWindow, so that class
	// streams nobody reads never take the credit the other streams need,
	// and the other way round. At least 256 KiB and 4 × StreamWindow; 0
	// means no class (the preface is then exactly that of a session
	// before classes). Both sides need one for class streams to open.
	ClassWindow uint32
	// ClassMaxStreams bounds the class streams open per session, both
	// directions together, apart from MaxStreams (MaxStreams).
	ClassMaxStreams int
	// ClassAcceptBacklog is AcceptBacklog for the class streams, which
	// wait to be accepted apart from the others (AcceptBacklog).
	ClassAcceptBacklog int
}

// Defaults of the Config fields.
const (
	DefaultMaxStreams         = 65536
	DefaultAcceptBacklog      = 1024
	DefaultStreamWindow       = 64 << 10
	DefaultSessionWindow      = 16 << 20
	DefaultMaxFrameSize       = 64 << 10
	DefaultMaxMessageSize     = 16 << 20
	DefaultSendBuffer         = 4 << 20
	DefaultStreamCloseTimeout = 30 * time.Second
	DefaultCloseTimeout       = time.Second
	DefaultKeepAliveInterval  = 10 * time.Second
	DefaultKeepAliveTimeout   = 30 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
)

// Validate reports the first field of c that is out of range, as Client and
// Server would; nil means they accept c. A nil *Config is valid.
func (c *Config) Validate() error {
	_, err := c.normalize()
	return err
}

// minSendBuffer is the smallest Config.SendBuffer: a frame of the
// smallest size the protocol allows.
const minSendBuffer = minFrameSize + headerSize

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
	def(&n.ClassMaxStreams, n.MaxStreams)
	def(&n.AcceptBacklog, DefaultAcceptBacklog)
	def(&n.ClassAcceptBacklog, n.AcceptBacklog)
	def(&n.MaxMessageSize, DefaultMaxMessageSize)
	def(&n.SendBuffer, DefaultSendBuffer)
	if n.StreamWindow == 0 {
		n.StreamWindow = DefaultStreamWindow
	}
	if n.SessionWindow == 0 {
		n.SessionWindow = max(DefaultSessionWindow, 4*n.StreamWindow)
	}
	if n.MaxFrameSize == 0 {
		n.MaxFrameSize = DefaultMaxFrameSize
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&n.StreamCloseTimeout, DefaultStreamCloseTimeout)
	dur(&n.CloseTimeout, DefaultCloseTimeout)
	dur(&n.WriteTimeout, DefaultWriteTimeout)
	// Keep-alive: either field alone implies the other, so that setting
	// only a short timeout never kills a healthy idle session.
	switch {
	case n.KeepAliveInterval == 0 && n.KeepAliveTimeout == 0:
		n.KeepAliveInterval, n.KeepAliveTimeout = DefaultKeepAliveInterval, DefaultKeepAliveTimeout
	case n.KeepAliveInterval == 0 && n.KeepAliveTimeout > 0:
		n.KeepAliveInterval = n.KeepAliveTimeout / 3
	case n.KeepAliveInterval > 0 && n.KeepAliveTimeout == 0:
		n.KeepAliveTimeout = 3 * n.KeepAliveInterval
	}
	switch {
	case n.MaxStreams < 0:
		return n, fmt.Errorf("mux: Config.MaxStreams %d is negative", n.MaxStreams)
	case n.AcceptBacklog < 0 || n.AcceptBacklog > maxWindow:
		return n, fmt.Errorf("mux: Config.AcceptBacklog %d is outside [1, %d]", n.AcceptBacklog, maxWindow)
	case n.MaxMessageSize < 0:
		return n, fmt.Errorf("mux: Config.MaxMessageSize %d is negative", n.MaxMessageSize)
	case n.StreamWindow < minStreamWindow || n.StreamWindow > maxWindow/4:
		return n, fmt.Errorf("mux: Config.StreamWindow %d is outside [%d, %d]", n.StreamWindow, minStreamWindow, maxWindow/4)
	case n.SessionWindow < minSessionWindow || n.SessionWindow > maxWindow || n.SessionWindow < 4*n.StreamWindow:
		return n, fmt.Errorf("mux: Config.SessionWindow %d is outside [max(%d, 4 × StreamWindow), %d]", n.SessionWindow, minSessionWindow, maxWindow)
	case n.ClassAcceptBacklog < 0 || n.ClassAcceptBacklog > maxWindow:
		return n, fmt.Errorf("mux: Config.ClassAcceptBacklog %d is outside [1, %d]", n.ClassAcceptBacklog, maxWindow)
	case n.ClassMaxStreams < 0:
		return n, fmt.Errorf("mux: Config.ClassMaxStreams %d is negative", n.ClassMaxStreams)
	case n.ClassWindow != 0 && (n.ClassWindow < minSessionWindow || n.ClassWindow > maxWindow || n.ClassWindow < 4*n.StreamWindow):
		return n, fmt.Errorf("mux: Config.ClassWindow %d is outside [max(%d, 4 × StreamWindow), %d]", n.ClassWindow, minSessionWindow, maxWindow)
	case n.MaxFrameSize < minFrameSize || n.MaxFrameSize > maxFrameLimit:
		return n, fmt.Errorf("mux: Config.MaxFrameSize %d is outside [%d, %d]", n.MaxFrameSize, minFrameSize, maxFrameLimit)
	case n.SendBuffer < minSendBuffer:
		return n, fmt.Errorf("mux: Config.SendBuffer %d is below %d", n.SendBuffer, minSendBuffer)
	case n.StreamCloseTimeout < 0:
		return n, fmt.Errorf("mux: Config.StreamCloseTimeout %v is negative", n.StreamCloseTimeout)
	case n.CloseTimeout < 0:
		return n, fmt.Errorf("mux: Config.CloseTimeout %v is negative", n.CloseTimeout)
	case n.KeepAliveTimeout < 0:
		return n, fmt.Errorf("mux: Config.KeepAliveTimeout %v is negative", n.KeepAliveTimeout)
	case n.KeepAliveInterval > 0 && n.KeepAliveTimeout <= n.KeepAliveInterval:
		return n, fmt.Errorf("mux: Config.KeepAliveTimeout %v must exceed KeepAliveInterval %v (a ping needs time to be answered)", n.KeepAliveTimeout, n.KeepAliveInterval)
	case n.WriteTimeout < 0:
		return n, fmt.Errorf("mux: Config.WriteTimeout %v is negative", n.WriteTimeout)
	}
	return n, nil
}
