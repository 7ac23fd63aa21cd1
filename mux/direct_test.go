package mux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestReadDeadlineMidPayload: a Read that leads reads a payload straight
// into the caller's buffer (lead.go). If its deadline passes halfway
// through the payload, Read returns a timeout and the buffer is the
// caller's again: nothing is written into it after Read returned, and the
// payload, the half already read included, comes whole to the next Read.
func TestReadDeadlineMidPayload(t *testing.T) {
	p := newRawPeer(t, nil)
	if _, err := p.conn.Write(append(clientPreface(), frame(typeData, flagSYN, 1, nil)...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := p.sess.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const size, half = 32 << 10, 10 << 10
	direct := 0 // attempts in which the Read led and read into its buffer
	for attempt := 0; attempt < 200 && direct < 3; attempt++ {
		payload := bytes.Repeat([]byte{byte(attempt + 1)}, size)
		// A small frame, handed by the reader goroutine to a waiting Read:
		// the token stays free for a moment, so the next Read leads.
		if _, err := p.conn.Write(frame(typeData, 0, 1, []byte{'x'})); err != nil {
			t.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := io.ReadFull(st, one); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		st.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		sent := make(chan error, 1)
		go func() {
			_, err := p.conn.Write(append(appendHeader(nil, typeData, 0, 1, size), payload[:half]...))
			sent <- err
		}()
		n, err := st.Read(buf)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("attempt %d: Read of half a payload returned %d, %v; want 0 and a timeout", attempt, n, err)
		}
		if bytes.Equal(buf[:half], payload[:half]) {
			direct++
		}
		snapshot := bytes.Clone(buf)

		st.SetReadDeadline(time.Time{})
		if _, err := p.conn.Write(payload[half:]); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(st, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("attempt %d: the payload came back changed", attempt)
		}
		if !bytes.Equal(buf, snapshot) {
			t.Fatalf("attempt %d: the timed-out Read's buffer was written after Read returned", attempt)
		}
	}
	if direct == 0 {
		t.Fatal("no Read led in 200 attempts: the straight-into-the-buffer path was never taken")
	}
}
