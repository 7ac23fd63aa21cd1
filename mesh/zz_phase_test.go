package mesh

import (
	"io"
	"testing"
	"time"
)

func TestZZPhases(t *testing.T) {
	for _, sec := range []bool{false, true} {
		var ns []*Node
		if sec {
			ns = delayChain(t, secureNodes(t, newCA(t), 3), -1)
		} else {
			ns = delayChain(t, nodes(t, 3), -1)
		}
		ln, _ := ns[2].Listen("", "svc")
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte{1})
				c.Close()
			}
		}()
		eventually(t, "svc", func() bool { return len(ns[0].Services()) == 1 })
		var sum [3]time.Duration
		const N = 200
		for range N {
			buf := make([]byte, 1)
			t0 := time.Now()
			ci, err := ns[0].c.circuitTo(ctxT(t), ns[2].ID())
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			c, err := ns[0].Dial("", "svc")
			if err != nil {
				t.Fatal(err)
			}
			t2 := time.Now()
			io.ReadFull(c, buf)
			t3 := time.Now()
			c.Close()
			sum[0] += t1.Sub(t0)
			sum[1] += t2.Sub(t1)
			sum[2] += t3.Sub(t2)
			ci.sess.Close()
			eventually(t, "circuit gone", func() bool { return circuitOf(ns[0], ns[2].ID()) == nil })
		}
		t.Logf("tls=%v circuit %v dial %v read %v", sec, sum[0]/N, sum[1]/N, sum[2]/N)
		ln.Close()
	}
}
