package mesh

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// TestCloseDelivers: a node that closes right after closing a
// connection still delivers what was written on it, and its end, to a
// neighbour and through a relay: the far end reads it all, then io.EOF,
// not a reset.
func TestCloseDelivers(t *testing.T) {
	for _, hops := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d hops", hops), func(t *testing.T) {
			for i := range 10 {
				ns := nodes(t, hops+1)
				chain(t, ns)
				src, dst := ns[0], ns[hops]
				ln, err := dst.Listen("", ":7")
				if err != nil {
					t.Fatal(err)
				}
				got := make(chan error, 1)
				want := randPayload(256<<10, int64(i))
				go func() {
					c, err := ln.Accept()
					if err != nil {
						got <- err
						return
					}
					defer c.Close()
					b, err := io.ReadAll(c)
					if err != nil || !bytes.Equal(b, want) {
						err = fmt.Errorf("%d of %d bytes: %v", len(b), len(want), err)
					}
					got <- err
				}()
				c, err := src.DialTimeout("", FormatID(dst.ID())+":7", patience)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Write(want); err != nil {
					t.Fatal(err)
				}
				c.Close()
				src.Close()
				if err := <-got; err != nil {
					t.Fatalf("round %d: the far end read: %v", i, err)
				}
			}
		})
	}
}

// randPayload returns n pseudo-random bytes.
func randPayload(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}
