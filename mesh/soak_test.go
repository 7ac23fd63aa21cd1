package mesh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// soakEnv names the environment variable that sets how long TestSoak runs
// (a Go duration, such as 2m); unset, it runs for soakDefault.
const soakEnv = "PLEXUS_SOAK"

const (
	soakDefault = 3 * time.Second
	soakNodes   = 12
	soakCallers = 24
	soakFlap    = 250 * time.Millisecond // a link added and one cut this often
	soakMsg     = 1 << 10
	soakWarmup  = 10 * time.Second // the heap's reference is taken after it (after a third of a shorter soak, whose growth is not checked)
	soakLinger  = 35 * time.Second // how long a long soak watches the heap after Close
	soakSlack   = 3 << 20          // the heap after Close may exceed the reference by this
)

// TestSoak runs a 12-node insecure mesh over in-memory pipes whose links
// flap (every soakFlap a link is added and one cut, the graph kept
// connected) while 24 callers dial services by name, echo 1 KiB and
// close. It passes when at least 95 % of the round trips succeed (the rest
// fail while records reconverge), the heap at the end stays within twice
// its level after the warm-up (in a soak of at least twice the warm-up:
// a shorter one has not reached its steady state), the goroutines return to their count
// before the soak, and Close releases what the nodes held at once: the
// heap right after every node's Close is within 3 MiB of its level before
// the soak, and, in a long soak, of its level 35 s later (a timer left
// armed would hold sessions until it fires).
func TestSoak(t *testing.T) {
	dur := soakDefault
	long := false
	if v := os.Getenv(soakEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", soakEnv, v, err)
		}
		dur, long = d, true
	}
	goroutines := runtime.NumGoroutine()
	heapBefore := heapNow()

	s := newSoak(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	for i := range soakCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			msg := bytes.Repeat([]byte{byte(i)}, soakMsg)
			buf := make([]byte, soakMsg)
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := s.nodes[rng.IntN(soakNodes)]
				svc := fmt.Sprintf("svc%d", rng.IntN(soakServices))
				if err := soakTrip(n, svc, msg, buf); err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.flap(stop)
	}()

	start := time.Now()
	warm := min(soakWarmup, dur/3)
	timer := time.NewTimer(warm) // the soak's length is time itself
	<-timer.C
	heapWarm := heapNow()
	timer.Reset(dur - warm)
	<-timer.C
	heapEnd := heapNow()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)

	closeStart := time.Now()
	s.close()
	closed := time.Since(closeStart)
	heapClosed := heapNow()
	if f := os.Getenv("PLEXUS_SOAK_HEAP"); f != "" {
		writeHeapProfile(t, f)
	}

	total := ok.Load() + failed.Load()
	rate := 100 * float64(ok.Load()) / float64(max(total, 1))
	t.Logf("%d round trips in %v, %.2f %% succeeded (%d flaps); last error: %v", total, elapsed.Round(time.Millisecond), rate, s.flaps, lastErr.Load())
	t.Logf("heap: %.1f MiB before, %.1f MiB after %v, %.1f MiB at the end, %.1f MiB after Close (%v)",
		mib(heapBefore), mib(heapWarm), warm, mib(heapEnd), mib(heapClosed), closed.Round(time.Millisecond))
	if rate < 95 {
		t.Errorf("%.2f %% of %d round trips succeeded, want at least 95 %%", rate, total)
	}
	switch {
	case dur < 2*soakWarmup:
		t.Logf("heap growth not checked: the soak is shorter than twice the warm-up (%v)", soakWarmup)
	case heapEnd > 2*heapWarm:
		t.Errorf("heap grew from %.1f MiB to %.1f MiB, more than twice", mib(heapWarm), mib(heapEnd))
	}
	eventually(t, "the goroutines to return to their count before the soak", func() bool { return runtime.NumGoroutine() <= goroutines })
	t.Logf("goroutines: %d before, %d after Close", goroutines, runtime.NumGoroutine())
	if heapClosed > heapBefore+soakSlack {
		t.Errorf("heap after Close %.1f MiB, %.1f MiB more than before the soak: Close left something holding the nodes", mib(heapClosed), mib(heapClosed-heapBefore))
	}
	if long {
		// Time is what this waits for: a timer that Close left armed frees
		// what it holds only when it fires.
		time.Sleep(soakLinger)
		heapLater := heapNow()
		t.Logf("heap %v after Close: %.1f MiB", soakLinger, mib(heapLater))
		if heapClosed > heapLater+soakSlack {
			t.Errorf("heap after Close %.1f MiB, %v later %.1f MiB: Close left timers holding memory", mib(heapClosed), soakLinger, mib(heapLater))
		}
	}
}

// soakServices is how many service names the soak serves, each on
// soakNodes/soakServices nodes.
const soakServices = 4

// soakTrip dials svc from n, echoes msg and closes.
func soakTrip(n *Node, svc string, msg, buf []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := n.DialContext(ctx, "", svc)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(patience))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if !bytes.Equal(buf, msg) {
		return fmt.Errorf("echo: got other bytes")
	}
	return nil
}

// soak is the mesh of TestSoak: its nodes, their echo services and the
// links between them.
type soak struct {
	t     *testing.T
	nodes []*Node
	lns   []net.Listener
	serve sync.WaitGroup // the echo servers
	mu    sync.Mutex
	links map[[2]int]*pipeLink // by the nodes' indices, lower first
	flaps int
	rng   *rand.Rand
}

func newSoak(t *testing.T) *soak {
	s := &soak{t: t, links: make(map[[2]int]*pipeLink), rng: rand.New(rand.NewPCG(15, 5))}
	for i := range soakNodes {
		n, err := New(WithInsecure(), fast)
		if err != nil {
			t.Fatal(err)
		}
		s.nodes = append(s.nodes, n)
		ln, err := n.Listen("", fmt.Sprintf("svc%d", i%soakServices))
		if err != nil {
			t.Fatal(err)
		}
		s.lns = append(s.lns, ln)
		s.serve.Add(1)
		go s.echo(ln)
	}
	t.Cleanup(s.close) // when the test fails before it closes
	for i := range soakNodes {
		s.link(i, (i+1)%soakNodes) // a ring, and a few chords
	}
	for i := 0; i < soakNodes/2; i += 2 {
		s.link(i, i+soakNodes/2)
	}
	for _, n := range s.nodes {
		for _, m := range s.nodes {
			eventually(t, "every node to route to every other", func() bool { return n == m || hopsTo(n, m.ID()) > 0 })
		}
	}
	return s
}

// echo serves ln: every connection gets back what it sends.
func (s *soak) echo(ln net.Listener) {
	defer s.serve.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// link links nodes i and j over a pipe.
func (s *soak) link(i, j int) {
	x, y := net.Pipe()
	p := &pipeLink{x: x, y: y, errA: make(chan error, 1), errB: make(chan error, 1)}
	a, b := s.nodes[i], s.nodes[j]
	go func() { p.errA <- a.Attach(x) }()
	go func() { p.errB <- b.Attach(y) }()
	s.mu.Lock()
	s.links[edge(i, j)] = p
	s.mu.Unlock()
}

func edge(i, j int) [2]int { return [2]int{min(i, j), max(i, j)} }

// flap adds a link and cuts one every soakFlap until stop is closed,
// keeping the graph connected.
func (s *soak) flap(stop <-chan struct{}) {
	tick := time.NewTicker(soakFlap) // the pace of the churn is time itself
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for { // add a link that is not there
			i, j := s.rng.IntN(soakNodes), s.rng.IntN(soakNodes)
			if _, ok := s.links[edge(i, j)]; i != j && !ok {
				s.link(i, j)
				break
			}
		}
		for { // cut one whose loss leaves the graph connected
			var es [][2]int
			for e := range s.links {
				es = append(es, e)
			}
			e := es[s.rng.IntN(len(es))]
			if !s.connectedWithout(e) {
				continue
			}
			s.mu.Lock()
			p := s.links[e]
			delete(s.links, e)
			s.mu.Unlock()
			p.cut()
			break
		}
		s.flaps++
	}
}

// connectedWithout reports whether the links but e connect every node.
func (s *soak) connectedWithout(cut [2]int) bool {
	adj := make([][]int, soakNodes)
	for e := range s.links {
		if e != cut {
			adj[e[0]] = append(adj[e[0]], e[1])
			adj[e[1]] = append(adj[e[1]], e[0])
		}
	}
	seen := make([]bool, soakNodes)
	seen[0] = true
	todo, n := []int{0}, 1
	for len(todo) > 0 {
		i := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j], n = true, n+1
				todo = append(todo, j)
			}
		}
	}
	return n == soakNodes
}

// close closes every node at once, then the pipes, and waits for the
// Attach calls and the echo servers.
// It drops them, so that what the nodes held can be collected.
func (s *soak) close() {
	s.mu.Lock()
	nodes, lns := s.nodes, s.lns
	s.nodes, s.lns = nil, nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Close()
		}()
	}
	wg.Wait()
	s.mu.Lock()
	links := s.links
	s.links = nil
	s.mu.Unlock()
	for _, p := range links {
		p.cut()
	}
	for _, ln := range lns {
		ln.Close()
	}
	s.serve.Wait()
}

// heapNow returns the bytes of live heap objects after a full collection
// (two, so that sync.Pool's victim cache is emptied too).
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// writeHeapProfile writes a heap profile to the file f.
func writeHeapProfile(t *testing.T, f string) {
	w, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
		t.Fatal(err)
	}
}
