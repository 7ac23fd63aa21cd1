package muxpeer

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEcho opens a stream on every peer, sends two records and reads them back
// from the server side, with both the byte and the message view.
func TestEcho(t *testing.T) {
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			if p.Unavailable != "" {
				t.Skip(p.Unavailable)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			client, server, err := p.Pair(ln, Options{})
			if err != nil {
				ln.Close()
				t.Fatal(err)
			}
			defer func() {
				client.Close()
				server.Close()
				ln.Close()
			}()
			ctx := context.Background()
			st, err := client.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("0123456789abcdef")
			if err := st.SendMsg(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Write(msg); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			ss, err := server.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ss.RecvMsg(make([]byte, len(msg)))
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("RecvMsg = %q, %v; want %q", got, err, msg)
			}
			rest, err := io.ReadAll(ss)
			if err != nil || !bytes.Equal(rest, msg) {
				t.Fatalf("Read to EOF = %q, %v; want %q", rest, err, msg)
			}
			ss.Close()
		})
	}
}
