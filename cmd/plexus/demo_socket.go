package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/socket"
)

// demoSocket: message sockets over loopback TCP, speaking the SP wire of
// NNG: a req/rep round trip, a pub/sub fan-out with topics, and clients
// and workers that meet through a switch, with every reply finding its
// way back to the client that asked.
func demoSocket(ctx context.Context, t *tour) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := demoReqRep(ctx, t); err != nil {
		return fmt.Errorf("req/rep: %w", err)
	}
	if err := demoPubSub(ctx, t); err != nil {
		return fmt.Errorf("pub/sub: %w", err)
	}
	if err := demoSwitch(ctx, t); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	return nil
}

// serveRep answers every request on r with prefix+request until r
// closes; the returned function closes r and waits.
func serveRep(r socket.Socket, prefix string) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.RecvMsg()
			if err != nil {
				return
			}
			if r.SendTo(m.Source, append([]byte(prefix), m.Content...)) != nil {
				return
			}
		}
	}()
	return func() {
		r.Close()
		<-done
	}
}

func demoReqRep(ctx context.Context, t *tour) error {
	t.heading("req/rep over tcp://: every request gets its reply, as with NNG's req and rep sockets, which these talk to (and nngcat, and plexus sock).")
	r, err := rep.New()
	if err != nil {
		return err
	}
	addr, err := r.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		r.Close()
		return err
	}
	defer serveRep(r, "re: ")()
	q, err := req.New()
	if err != nil {
		return err
	}
	defer q.Close()
	if err := q.DialContext(ctx, addr); err != nil {
		return err
	}
	const n = 5000
	msg := []byte("a 32-byte request, as in bench/.")
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := q.SendContext(ctx, msg); err != nil {
			return err
		}
		b, err := q.RecvContext(ctx)
		if err != nil {
			return err
		}
		if len(b) != 4+len(msg) {
			return fmt.Errorf("reply %q", b)
		}
	}
	d := time.Since(start)
	t.say("req/rep: rep on %s, %s of %d B, one after another, in %v (%v each)",
		addr, plural(n, "round trip"), len(msg), d.Round(time.Millisecond), (d / n).Round(100*time.Nanosecond))
	return nil
}

func demoPubSub(ctx context.Context, t *tour) error {
	t.heading("pub/sub over tcp://: the publisher sends each message once, and every subscriber gets the ones whose topic (a prefix) it subscribed to.")
	// Lossless, so that the counts are exact (NNG's pub drops for a
	// subscriber that is behind; that is the default).
	p, err := pub.New(pub.WithBlocking())
	if err != nil {
		return err
	}
	defer p.Close()
	addr, err := p.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	topics := []string{"weather/", "news/", "weather/paris", ""}
	const n = 40000 // half weather/paris, half news/sport
	want := []int{n / 2, n / 2, n / 2, n}
	got := make([]int, len(topics))
	subs := make([]socket.Socket, len(topics))
	for i, topic := range topics {
		s, err := sub.New()
		if err != nil {
			return err
		}
		defer s.Close()
		if err := sub.Subscribe(s, []byte(topic)); err != nil {
			return err
		}
		if err := s.DialContext(ctx, addr); err != nil {
			return err
		}
		subs[i] = s
	}
	// A publisher sends to the subscribers connected now.
	for p.Stats().Pipes < len(subs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(subs))
	for i, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got[i] < want[i] {
				b, err := s.RecvContext(ctx)
				if err != nil {
					errs <- err
					return
				}
				if !strings.HasPrefix(string(b), topics[i]) {
					errs <- fmt.Errorf("subscriber %q got %q", topics[i], b)
					return
				}
				got[i]++
			}
		}()
	}
	paris, sport := []byte("weather/paris 21°C"), []byte("news/sport 2-1")
	for i := 0; i < n; i++ {
		m := paris
		if i%2 == 1 {
			m = sport
		}
		if err := p.SendContext(ctx, m); err != nil {
			return err
		}
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var parts []string
	total := 0
	for i, topic := range topics {
		if topic == "" {
			topic = `"" (everything)`
		} else {
			topic = fmt.Sprintf("%q", topic)
		}
		parts = append(parts, fmt.Sprintf("%s %d", topic, got[i]))
		total += got[i]
	}
	t.say("pub/sub: pub on %s, %d messages (%q, %q, in turn) to %s in %v (%s)",
		addr, n, paris, sport, plural(len(subs), "subscriber"), d.Round(time.Millisecond), rate(float64(total), d, "deliveries"))
	t.say("received by the subscribers to %s: none lost, none out of their topic", strings.Join(parts, ", "))
	return nil
}

func demoSwitch(ctx context.Context, t *tour) error {
	// The switch: a raw rep in front, facing the clients, and a raw req
	// behind, facing the workers. Every hop adds its pipe id to a
	// request's backtrace, and the reply retraces it.
	front, err := rep.NewRaw()
	if err != nil {
		return err
	}
	defer front.Close()
	back, err := req.NewRaw()
	if err != nil {
		return err
	}
	defer back.Close()
	frontAddr, err := front.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	backAddr, err := back.ListenAddr("tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	var forwarded atomic.Int64
	sw := socket.StartSwitch(back, front, func(m *socket.Message) *socket.Message {
		forwarded.Add(1)
		return m
	})
	defer sw.Stop()

	const workers, clients, each = 3, 4, 250
	t.heading(fmt.Sprintf("A switch (NNG's device) puts %d workers behind one address for %d clients, and every reply finds the client that asked, with no table at the switch.", workers, clients))
	var hops atomic.Int64
	for i := 0; i < workers; i++ {
		r, err := rep.New()
		if err != nil {
			return err
		}
		if err := r.DialContext(ctx, backAddr); err != nil {
			r.Close()
			return err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				m, err := r.RecvMsg()
				if err != nil {
					return
				}
				hops.Store(int64(len(m.Source)))
				if r.SendTo(m.Source, []byte(fmt.Sprintf("worker %d: %s", i, m.Content))) != nil {
					return
				}
			}
		}()
		defer func() {
			r.Close()
			<-done
		}()
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	perWorker := make([]atomic.Int64, workers)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- switchClient(ctx, frontAddr, c, each, perWorker)
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	var load []string
	for i := range perWorker {
		load = append(load, fmt.Sprint(perWorker[i].Load()))
	}
	t.say("switch: %s → rep | switch | req → %s: %s in %v, every reply reached the client that asked",
		plural(clients, "client"), plural(workers, "worker"), plural(clients*each, "request"), d.Round(time.Millisecond))
	t.say("the switch shared them out, %s requests per worker, and forwarded %s (requests and replies)",
		strings.Join(load, "/"), plural(int(forwarded.Load()), "message"))
	t.say("how the replies find their way: a request reaches a worker carrying its way back, %s (the worker's pipe to the switch,",
		plural(int(hops.Load()), "entry", "entries"))
	t.say("the switch's pipe to the client, the client's request id); the reply retraces it, so the switch remembers nothing")
	return nil
}

// switchClient sends n requests through the switch at addr and checks
// that each reply answers its own request.
func switchClient(ctx context.Context, addr string, c, n int, perWorker []atomic.Int64) error {
	q, err := req.New()
	if err != nil {
		return err
	}
	defer q.Close()
	if err := q.DialContext(ctx, addr); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("client %d request %d", c, i)
		if err := q.SendContext(ctx, []byte(msg)); err != nil {
			return err
		}
		b, err := q.RecvContext(ctx)
		if err != nil {
			return err
		}
		var worker int
		var rest string
		if _, err := fmt.Sscanf(string(b), "worker %d:", &worker); err != nil || worker < 0 || worker >= len(perWorker) {
			return fmt.Errorf("client %d: reply %q", c, b)
		}
		if _, rest, _ = strings.Cut(string(b), ": "); rest != msg {
			return errors.New("a reply reached the wrong client: " + string(b))
		}
		perWorker[worker].Add(1)
	}
	return nil
}
