package resume

import (
	"fmt"
	"time"
)

// Config tunes a Conn. A nil Config, or a zero field, means the default.
// Both ends of a Conn must use the same Buffer.
type Config struct {
	// Buffer bounds the replay buffer: the bytes written and not yet
	// acknowledged by the peer (which acknowledges what its application
	// has read). Write blocks while it is full, as on running out of
	// credit. It also bounds what the receiver buffers. Default 16 MiB
	// (a link's receive window); for a circuit, the inner session's window.
	Buffer int
	// AckDelay is how long a receiver waits, after its application has
	// read something, before it acknowledges that when less than a quarter
	// of Buffer (at most 256 KiB) is unacknowledged (that much is
	// acknowledged at once), so that an idle Conn holds no replay bytes.
	// Default 20 ms.
	AckDelay time.Duration
	// KeepAliveInterval: a PING goes out when nothing arrived on the path
	// for this long. Default 1 s; negative turns keep-alive off.
	KeepAliveInterval time.Duration
	// KeepAliveTimeout: a path on which nothing arrived for this long is
	// broken. Default 3 s. It also bounds how long Close waits for the
	// peer's CLOSE.
	KeepAliveTimeout time.Duration
	// KeepAliveBusy limits the keep-alive to the times when bytes written
	// wait for the peer's acknowledgement, and to a little more than
	// KeepAliveTimeout after bytes were received: an idle Conn sends no PING and its silence
	// breaks nothing (a circuit's, whose relays must not pay for idle
	// circuits; a dead path is then found when it is used, by either end).
	KeepAliveBusy bool
	// ResumeWindow: a Conn whose path broke fails with ErrResumeTimeout
	// if no resume succeeds within this time. Default 30 s.
	ResumeWindow time.Duration
	// OnBreak, if set, is called once for each break of the path that the
	// Conn sees (not for Break), with its cause, so that the owner finds a new path and calls Resume. It is
	// called without any lock of the Conn held, from the goroutine that saw
	// the break (the path's reader or writer, a Read that was reading the
	// path, a timer, or Break's caller);
	// it may call Resume, but should not block for long.
	OnBreak func(error)
}

// Defaults.
const (
	DefaultBuffer            = 16 << 20
	DefaultAckDelay          = 20 * time.Millisecond
	DefaultKeepAliveInterval = time.Second
	DefaultKeepAliveTimeout  = 3 * time.Second
	DefaultResumeWindow      = 30 * time.Second
)

// normalize returns a copy of c with the defaults filled in, or an error
// naming the bad field.
func (c *Config) normalize() (Config, error) {
	var n Config
	if c != nil {
		n = *c
	}
	switch {
	case n.Buffer < 0:
		return n, fmt.Errorf("resume: Config.Buffer %d is negative", n.Buffer)
	case n.AckDelay < 0:
		return n, fmt.Errorf("resume: Config.AckDelay %v is negative", n.AckDelay)
	case n.KeepAliveTimeout < 0:
		return n, fmt.Errorf("resume: Config.KeepAliveTimeout %v is negative", n.KeepAliveTimeout)
	case n.ResumeWindow < 0:
		return n, fmt.Errorf("resume: Config.ResumeWindow %v is negative", n.ResumeWindow)
	}
	if n.Buffer == 0 {
		n.Buffer = DefaultBuffer
	}
	if n.AckDelay == 0 {
		n.AckDelay = DefaultAckDelay
	}
	if n.KeepAliveInterval == 0 {
		n.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if n.KeepAliveTimeout == 0 {
		n.KeepAliveTimeout = DefaultKeepAliveTimeout
	}
	if n.KeepAliveInterval > 0 && n.KeepAliveTimeout < n.KeepAliveInterval {
		return n, fmt.Errorf("resume: Config.KeepAliveTimeout %v is below KeepAliveInterval %v", n.KeepAliveTimeout, n.KeepAliveInterval)
	}
	if n.ResumeWindow == 0 {
		n.ResumeWindow = DefaultResumeWindow
	}
	return n, nil
}
