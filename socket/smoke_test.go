package socket

import (
	"fmt"
	"testing"
)

func TestSmoke(t *testing.T) {
	for _, url := range []string{"inproc://smoke", "tcp://127.0.0.1:0", "ipc://" + t.TempDir() + "/s.sock"} {
		t.Run(url, func(t *testing.T) {
			a, b := New(), New()
			defer a.Close()
			defer b.Close()
			addr, err := a.ListenAddr(url)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Dial(addr); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 1000; i++ {
				if err := b.Send([]byte(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 1000; i++ {
				m, err := a.RecvMsg()
				if err != nil {
					t.Fatal(err)
				}
				if string(m.Content) != fmt.Sprint(i) {
					t.Fatalf("got %q want %d", m.Content, i)
				}
				if i == 0 {
					if err := a.SendTo(m.Source, []byte("reply")); err != nil {
						t.Fatal(err)
					}
				}
			}
			r, err := b.Recv()
			if err != nil || string(r) != "reply" {
				t.Fatal(string(r), err)
			}
		})
	}
}
