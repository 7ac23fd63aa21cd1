package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
	"github.com/plexusnet/plexus/bench/internal/meshpeer"
	"github.com/plexusnet/plexus/bench/internal/report"
	"github.com/plexusnet/plexus/mesh"
)

// runIdle measures what idle relayed circuits cost their relay. The relay
// runs in a child process (this program with -relay-child), so that its
// memory and goroutines are its own. Here, c.ends client nodes and as many
// server nodes join it; every client dials every server once, which sets
// up a circuit client > relay > server that then stays idle: c.ends²
// circuits over 2 × c.ends links. A first round, one circuit per client
// echoing a burst of 1 MiB both ways, warms every link up: a link session
// keeps the buffers of its send queue once it has queued data (mux keeps
// up to four 72 KiB segments per session), which is a cost per link, not
// per circuit. The result is the growth of the relay's heap and stacks
// (after GC) over the other circuits, per circuit. On a libp2p path,
// runIdleLibp2p measures the same at a go-libp2p relay.
func runIdle(p meshpeer.Path, c config) report.Result {
	if p.Libp2p {
		return runIdleLibp2p(c)
	}
	addr, ask, stop, err := startRelayProcess("mesh")
	if err != nil {
		return failed(err)
	}
	defer stop()

	var nodes []*mesh.Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	join := func() (*mesh.Node, error) {
		n, err := mesh.New(mesh.WithInsecure())
		if err == nil {
			nodes = append(nodes, n)
			err = n.Join("tcp", addr)
		}
		return n, err
	}
	k := c.ends
	clients, servers := make([]*mesh.Node, k), make([]*mesh.Node, k)
	for i := range k {
		if servers[i], err = join(); err != nil {
			return failed(err)
		}
		ln, err := servers[i].Listen("", ":7")
		if err != nil {
			return failed(err)
		}
		echo, err := servers[i].Listen("", ":8")
		if err != nil {
			return failed(err)
		}
		go func() {
			for {
				st, err := echo.Accept()
				if err != nil {
					return
				}
				go func() {
					io.Copy(st, st)
					st.Close()
				}()
			}
		}()
		go func() {
			for {
				st, err := ln.Accept()
				if err != nil {
					return
				}
				st.Write([]byte{1})
				st.Close()
			}
		}()
		if clients[i], err = join(); err != nil {
			return failed(err)
		}
	}
	// Every client routes to every server, two hops away.
	deadline := time.Now().Add(time.Minute)
	for _, cl := range clients {
		for _, sv := range servers {
			for hops(cl, sv.ID()) != 2 {
				if time.Now().After(deadline) {
					return failed(fmt.Errorf("the clients did not all route to the servers within a minute"))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(cl, sv *mesh.Node) error {
		st, err := cl.DialContext(ctx, "", mesh.Addr{Host: sv.ID(), Port: 7}.String())
		if err == nil {
			_, err = io.ReadFull(st, make([]byte, 1))
			st.Close()
		}
		return err
	}
	burst := func(cl, sv *mesh.Node) error {
		st, err := cl.DialContext(ctx, "", mesh.Addr{Host: sv.ID(), Port: 8}.String())
		if err != nil {
			return err
		}
		defer st.Close()
		go func() {
			st.Write(make([]byte, 1<<20))
			st.(interface{ CloseWrite() error }).CloseWrite()
		}()
		n, err := io.Copy(io.Discard, st)
		if err == nil && n != 1<<20 {
			err = fmt.Errorf("echoed %d bytes of %d", n, 1<<20)
		}
		return err
	}
	per, gor, h0, h1, err := growth(clients, servers, burst, dial, ask)
	if err != nil {
		return failed(err)
	}
	return report.Result{Value: per, Note: fmt.Sprintf("%.2f goroutines/circuit; relay HeapInuse+StackInuse %.2f → %.2f MiB over %d circuits (%d links)",
		gor, float64(h0)/(1<<20), float64(h1)/(1<<20), k*k-k, 2*k)}
}

// startRelayProcess starts this program as the relay of the idle workload
// (-relay-child=kind) and reads the address it accepts links on. ask sends
// it a question ("mem") and reads its answer: its heap and stacks in use,
// and its goroutines. stop ends it.
func startRelayProcess(kind string) (addr string, ask func(q string) (heap, goroutines int64, err error), stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, nil, err
	}
	cmd := exec.Command(self, "-relay-child="+kind)
	cmd.Env = append(os.Environ(), "MESHBENCH_RELAY_CHILD="+kind) // for the tests' binary
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, nil, fmt.Errorf("starting the relay process: %w", err)
	}
	stop = func() {
		stdin.Close() // the child ends when its stdin closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	out := bufio.NewScanner(stdout)
	ask = func(q string) (heap, goroutines int64, err error) {
		if _, err := io.WriteString(stdin, q+"\n"); err != nil {
			return 0, 0, err
		}
		if !out.Scan() {
			return 0, 0, fmt.Errorf("the relay process ended: %v", out.Err())
		}
		if _, err := fmt.Sscan(out.Text(), &heap, &goroutines); err != nil {
			return 0, 0, fmt.Errorf("the relay said %q", out.Text())
		}
		return heap, goroutines, nil
	}
	if !out.Scan() {
		stop()
		return "", nil, nil, fmt.Errorf("the relay process ended: %v", out.Err())
	}
	return out.Text(), ask, stop, nil
}

// answerMemory answers the questions of the parent on stdin until it
// closes: "mem" with the heap and stacks in use (after GC) and the
// goroutines of this process.
func answerMemory() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if strings.TrimSpace(in.Text()) == "mem" {
			fmt.Println(harness.RetainedMemory(), runtime.NumGoroutine())
		}
	}
}

// hops returns the hops n's route to host takes, or -1.
func hops(n *mesh.Node, host uint64) int {
	for _, r := range n.Routes() {
		if r.Host == host {
			return r.Hops
		}
	}
	return -1
}

// runRelayChild is the relay process of runIdle: it prints the address it
// accepts links on, then answers "mem" with its heap and stacks in use
// (after GC) and its goroutines, until its stdin closes.
func runRelayChild() int {
	n, err := mesh.New(mesh.WithInsecure(), mesh.WithLimits(mesh.Limits{MaxLinks: 1 << 14, MaxCircuitsPerPeer: 1 << 14, MaxCircuitsPerSource: 1 << 14, MaxRelayedCircuits: 1 << 16}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench relay:", err)
		return 1
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		err = n.Serve(ln)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench relay:", err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	answerMemory()
	return 0
}

// growth is what the relay of the idle workload holds per circuit: it
// warms every link up (warm, client i to server i), lets the relay settle,
// asks it for its memory, has every client dial every other server once
// (dial, a circuit each), lets it settle again and asks once more. It
// returns the growth of the relay's heap and stacks, and of its
// goroutines, per circuit, and the relay's heap and stacks before and
// after.
func growth[H any](clients, servers []H, warm, dial func(cl, sv H) error, ask func(q string) (heap, goroutines int64, err error)) (perCircuit, goroutines float64, h0, h1 int64, err error) {
	for i, cl := range clients { // warm every link up
		if err := warm(cl, servers[i]); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	// The dials' streams end, and so do the goroutines that read their
	// setups at the relay (they wait a second for more work); the circuits
	// stay.
	settle := 2 * time.Second
	time.Sleep(settle)
	h0, g0, err := ask("mem")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for i, cl := range clients {
		for j, sv := range servers {
			if i != j {
				if err := dial(cl, sv); err != nil {
					return 0, 0, 0, 0, err
				}
			}
		}
	}
	time.Sleep(settle)
	h1, g1, err := ask("mem")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	n := float64(len(clients)*len(servers) - len(clients))
	return float64(h1-h0) / n, float64(g1-g0) / n, h0, h1, nil
}
