package mesh

import (
	"io"
	"net"
	"testing"
	"time"
)

// delayProxy forwards connections to target, each chunk after d.
func delayProxy(b testing.TB, target string, d time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	pipe := func(dst, src net.Conn) {
		type ch struct {
			b  []byte
			at time.Time
		}
		q := make(chan ch, 1<<16)
		go func() {
			defer close(q)
			for {
				buf := make([]byte, 64<<10)
				n, err := src.Read(buf)
				if n > 0 {
					q <- ch{buf[:n], time.Now().Add(d)}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			for c := range q {
				time.Sleep(time.Until(c.at))
				if _, err := dst.Write(c.b); err != nil {
					break
				}
			}
			dst.Close()
			src.Close()
		}()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			pipe(t, c)
			pipe(c, t)
		}
	}()
	return ln.Addr().String()
}

func delayChain(b testing.TB, ns []*Node, d time.Duration) []*Node {
	for i := 0; i+1 < len(ns); i++ {
		ln, err := netListen()
		if err != nil {
			b.Fatal(err)
		}
		ns[i].Serve(ln)
		addr := ln.Addr().String()
		if d >= 0 {
			addr = delayProxy(b, addr, d)
		}
		ns[i+1].Join("tcp", addr)
	}
	waitRoute(b, ns[0], ns[len(ns)-1].ID(), len(ns)-1)
	waitRoute(b, ns[len(ns)-1], ns[0].ID(), len(ns)-1)
	return ns
}

const oneWay = 5 * time.Millisecond

func TestZZRoundTrips(t *testing.T) {
	for _, sec := range []bool{false, true} {
		var ns []*Node
		if sec {
			ns = delayChain(t, secureNodes(t, newCA(t), 3), oneWay)
		} else {
			ns = delayChain(t, nodes(t, 3), oneWay)
		}
		rtt := 4 * oneWay // two links, both ways
		ln, _ := ns[2].Listen("", "svc")
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, 1)
					if _, err := io.ReadFull(c, buf); err == nil {
						c.Write(buf)
					}
					c.Close()
				}()
			}
		}()
		eventually(t, "svc", func() bool { return len(ns[0].Services()) == 1 })
		buf := make([]byte, 1)
		request := func() time.Duration {
			t0 := time.Now()
			c, err := ns[0].Dial("", "svc")
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			c.Write(buf)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			t2 := time.Now()
			c.Close()
			t3 := time.Now()
			t.Logf("tls=%v dial %.2f RT, write+read %.2f RT, close %.2f RT, total %.2f", sec, float64(t1.Sub(t0))/float64(rtt), float64(t2.Sub(t1))/float64(rtt), float64(t3.Sub(t2))/float64(rtt), float64(t3.Sub(t0))/float64(rtt))
			return t3.Sub(t0)
		}
		for range 4 {
			request()
		}
		// first dial to first byte
		ci := circuitOf(ns[0], ns[2].ID())
		ci.sess.Close()
		eventually(t, "circuit gone", func() bool { return circuitOf(ns[0], ns[2].ID()) == nil })
		t.Log("first dial:")
		request()
		request()
		ln.Close()
	}
}
