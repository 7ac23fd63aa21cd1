package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/bench/internal/runner"
	"github.com/plexusnet/plexus/bench/internal/sockpeer"
)

type config struct {
	win  harness.Window
	subs int
}

type workload struct {
	name   string
	unit   string
	higher bool
	mode   func(config) string
	run    func(sockpeer.Peer, config) report.Result
	// child is true when the workload starts this program again as a child process.
	child bool
}

const (
	pushSize = 64
	reqSize  = 32
	pubSize  = 64
)

var topic = []byte("bench")

var workloads = []workload{
	{"pushpull", "msg/s", true, fixed("64 B, tcp, 1 proc"), runPushPull1, false},
	{"pushpull", "msg/s", true, fixed("64 B, tcp, 2 procs"), runPushPull2, true},
	{"reqrep", "µs", false, fixed("32 B round trip, tcp"), runReqRep, false},
	{"pubsub", "deliveries/s", true, func(c config) string { return fmt.Sprintf("64 B, inproc, %d subs", c.subs) }, runPubSub, false},
}

func fixed(s string) func(config) string { return func(config) string { return s } }

func failed(err error) report.Result {
	if errors.Is(err, sockpeer.ErrNotBuilt) {
		return report.Result{Skipped: err.Error()}
	}
	return report.Result{Skipped: "failed: " + err.Error()}
}

func tcpURL() (string, error) {
	port, err := harness.FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", port), nil
}

// run holds the sockets and loops of one workload for one peer.
type run struct {
	p       sockpeer.Peer
	inst    sockpeer.Instance
	socks   []sockpeer.Socket
	stop    atomic.Int32
	done    chan struct{} // closed when the harness stops the loops
	g       *harness.Group
	cleanup []func()
}

func start(p sockpeer.Peer) (*run, error) {
	inst, err := p.New()
	if err != nil {
		return nil, err
	}
	return &run{p: p, inst: inst, g: harness.NewGroup(), done: make(chan struct{})}, nil
}

func (r *run) open(k sockpeer.Kind) (sockpeer.Socket, error) {
	s, err := r.inst.Open(k)
	if err != nil {
		return nil, fmt.Errorf("open %v: %w", k, err)
	}
	r.socks = append(r.socks, s)
	return s, nil
}

func (r *run) loop(count *uint64) sockpeer.Loop { return sockpeer.Loop{Stop: &r.stop, Count: count} }

// finish stops the loops and closes everything, in the order the peer needs.
// It returns a note when something did not end in time.
func (r *run) finish() string {
	r.stop.Store(1)
	close(r.done)
	note := ""
	// Loops that are not blocked see the stop flag; the others are ended by
	// Interrupt (libzmq) or by closing their sockets.
	r.g.Wait(200 * time.Millisecond)
	r.inst.Interrupt()
	if r.p.CloseAfterLoops {
		if !r.g.Wait(10 * time.Second) {
			// Closing a libzmq socket that a loop still uses is not safe: leave them.
			return "loops still running 10 s after stop; sockets left open"
		}
		for _, s := range r.socks {
			s.Close()
		}
	} else {
		for _, s := range r.socks {
			s.Close()
		}
		if !r.g.Wait(10 * time.Second) {
			note = "loops still blocked 10 s after close"
		}
	}
	for _, f := range r.cleanup {
		f()
	}
	if err := r.inst.Close(); err != nil && note == "" {
		note = "closing: " + err.Error()
	}
	return note
}

func measure(r *run, c config, count func() uint64) (harness.Sample, string, error) {
	s, err := harness.Measure(c.win, count, r.g.Failed())
	return s, r.finish(), err
}

func result(v float64, s harness.Sample, p sockpeer.Peer, allocs, hang string) report.Result {
	n := ""
	if allocs != "" && !p.Native {
		n = fmt.Sprintf("%.2f %s", s.AllocsPer(), allocs)
	}
	if hang != "" {
		if n != "" {
			n += "; "
		}
		n += hang
	}
	return report.Result{Value: v, Note: n}
}

// startTCP starts a run of p with a socket of kind lk listening on a fresh
// loopback tcp:// URL and one of kind dk dialing it.
func startTCP(p sockpeer.Peer, lk, dk sockpeer.Kind) (r *run, l, d sockpeer.Socket, err error) {
	url, err := tcpURL()
	if err != nil {
		return nil, nil, nil, err
	}
	r, err = start(p)
	if err != nil {
		return nil, nil, nil, err
	}
	l, err = r.open(lk)
	if err == nil {
		err = l.Listen(url)
	}
	if err == nil {
		d, err = r.open(dk)
	}
	if err == nil {
		err = d.Dial(url)
	}
	if err != nil {
		r.finish()
		return nil, nil, nil, err
	}
	return r, l, d, nil
}

func runPushPull1(p sockpeer.Peer, c config) report.Result {
	r, pull, push, err := startTCP(p, sockpeer.Pull, sockpeer.Push)
	if err != nil {
		return failed(err)
	}
	cnt := harness.NewCounter(2)
	r.g.Go(func() error { return pull.RecvLoop(pushSize, r.loop(cnt.Ptr(0))) })
	r.g.Go(func() error { return push.SendLoop(make([]byte, pushSize), r.loop(cnt.Ptr(1))) })
	received := func() uint64 { return atomic.LoadUint64(cnt.Ptr(0)) }
	s, hang, err := measure(r, c, received)
	if err != nil {
		return failed(err)
	}
	return result(s.Rate(), s, p, "allocs/msg (both ends)", hang)
}

// runPushPull2 runs the puller here and the pusher in a child process (this
// program again, with -child push).
func runPushPull2(p sockpeer.Peer, c config) report.Result {
	url, err := tcpURL()
	if err != nil {
		return failed(err)
	}
	self, err := os.Executable()
	if err != nil {
		return failed(err)
	}
	r, err := start(p)
	if err != nil {
		return failed(err)
	}
	cnt := harness.NewCounter(1)
	pull, err := r.open(sockpeer.Pull)
	if err == nil {
		err = pull.Listen(url)
	}
	if err != nil {
		r.finish()
		return failed(err)
	}
	cmd := exec.Command(self, "-child", "push", "-peers", peerKeys(p.Name)[0], "-url", url)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		r.finish()
		return failed(fmt.Errorf("starting the pusher process: %w", err))
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	r.cleanup = append(r.cleanup, func() {
		stdin.Close() // the child stops when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	r.g.Go(func() error { return pull.RecvLoop(pushSize, r.loop(cnt.Ptr(0))) })
	r.g.Go(func() error {
		// A child that dies early fails the workload.
		select {
		case err := <-exited:
			exited <- err
			if r.stop.Load() == 0 {
				return fmt.Errorf("pusher process ended early: %v", err)
			}
		case <-r.done:
		}
		return nil
	})
	received := func() uint64 { return atomic.LoadUint64(cnt.Ptr(0)) }
	s, hang, err := measure(r, c, received)
	if err != nil {
		return failed(err)
	}
	return result(s.Rate(), s, p, "allocs/msg (puller process)", hang)
}

// runChild is the pusher process of runPushPull2: it dials url and sends until
// its stdin closes.
func runChild(kind, peer, url string) int {
	if kind != "push" {
		fmt.Fprintf(os.Stderr, "sockbench child: unknown role %q\n", kind)
		return 2
	}
	var p *sockpeer.Peer
	for _, q := range sockpeer.All() {
		if runner.Match(peer, peerKeys(q.Name)...) {
			p = &q
			break
		}
	}
	if p == nil || p.Unavailable != "" {
		fmt.Fprintf(os.Stderr, "sockbench child: peer %q not available\n", peer)
		return 2
	}
	r, err := start(*p)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockbench child:", err)
		return 1
	}
	push, err := r.open(sockpeer.Push)
	if err == nil {
		err = push.Dial(url)
	}
	if err != nil {
		r.finish()
		fmt.Fprintln(os.Stderr, "sockbench child:", err)
		return 1
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		r.stop.Store(1)
	}()
	var sent uint64
	err = push.SendLoop(make([]byte, pushSize), r.loop(&sent))
	r.finish()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockbench child:", err)
		return 1
	}
	return 0
}

func runReqRep(p sockpeer.Peer, c config) report.Result {
	r, rep, req, err := startTCP(p, sockpeer.Rep, sockpeer.Req)
	if err != nil {
		return failed(err)
	}
	cnt := harness.NewCounter(2)
	r.g.Go(func() error { return rep.RepLoop(reqSize, r.loop(cnt.Ptr(1))) })
	r.g.Go(func() error { return req.ReqLoop(make([]byte, reqSize), r.loop(cnt.Ptr(0))) })
	trips := func() uint64 { return atomic.LoadUint64(cnt.Ptr(0)) }
	s, hang, err := measure(r, c, trips)
	if err != nil {
		return failed(err)
	}
	return result(1e6/s.Rate(), s, p, "allocs/round trip", hang)
}

var pubsubSeq atomic.Int64

func runPubSub(p sockpeer.Peer, c config) report.Result {
	url := fmt.Sprintf("inproc://sockbench-pubsub-%d", pubsubSeq.Add(1))
	r, err := start(p)
	if err != nil {
		return failed(err)
	}
	cnt := harness.NewCounter(c.subs + 1)
	pub, err := r.open(sockpeer.Pub)
	if err == nil {
		err = pub.Listen(url)
	}
	for i := 0; i < c.subs && err == nil; i++ {
		var s sockpeer.Socket
		s, err = r.open(sockpeer.Sub)
		if err == nil {
			err = s.Subscribe(topic)
		}
		if err == nil {
			err = s.Dial(url)
		}
		if err == nil {
			r.g.Go(func() error { return s.RecvLoop(pubSize, r.loop(cnt.Ptr(i))) })
		}
	}
	if err != nil {
		r.finish()
		return failed(err)
	}
	msg := make([]byte, pubSize)
	copy(msg, topic)
	r.g.Go(func() error { return pub.SendLoop(msg, r.loop(cnt.Ptr(c.subs))) })
	// Each reading of the deliveries also reads what was published, so that
	// the last two published counts match the window Measure used.
	var published []uint64
	delivered := func() uint64 {
		published = append(published[max(len(published)-1, 0):], atomic.LoadUint64(cnt.Ptr(c.subs)))
		var n uint64
		for i := range c.subs {
			n += atomic.LoadUint64(cnt.Ptr(i))
		}
		return n
	}
	s, hang, err := measure(r, c, delivered)
	if err != nil {
		return failed(err)
	}
	res := result(s.Rate(), s, p, "allocs/delivery", hang)
	if len(published) == 2 && s.Elapsed > 0 {
		pubRate := float64(published[1]-published[0]) / s.Elapsed.Seconds()
		note := fmt.Sprintf("published %s msg/s", report.FormatValue(pubRate))
		if pubRate > 0 {
			note += fmt.Sprintf(", each reached %.1f of %d subs on average", s.Rate()/pubRate, c.subs)
		}
		if res.Note != "" {
			note += "; " + res.Note
		}
		res.Note = note
	}
	return res
}
