//go:build linux

package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The resumable-link tests in network namespaces (issue 18): two hosts,
// D and S, neighbours over a veth pair, both with resumable links on
// (WithResume(true)) on a secured mesh (a CA the test makes, shareCA):
//
//	D 10.200.4.2/24 ── 10.200.4.1/24 S
//
// S serves links at 10.200.4.1:7000 and a sink service ("sink"); D joins
// S and sends resBulk pseudo-random bytes to the sink over one connection
// (between neighbours: on the link's session). Once half is written, D
// leaves the file "half" in the case's directory and waits for the file
// "go": the test breaks the path in between, then lets D write the rest.
// Each host leaves "<role>-broke" once it counts a link break and
// "<role>-resumed" once it counts a resume (Stats). Each case checks what
// happened, never how long it took: the sink's SHA-256 of the bytes, the
// one connection carrying them all, the breaks and resumes counted, and no
// second link.
//
// Cases (each a test):
//   - drop: the test drops every packet of S's veth (iptables, both
//     directions) until both ends have seen the link break, and at least
//     resDrop; the link resumes.
//   - frozen: the test stops S's process (SIGSTOP) until D has seen the
//     break, and at least resFreeze, then continues it (SIGCONT): the
//     link resumes within the default window.
//   - window: the same with a resume window of resWindow at both ends,
//     and S stopped until D's transfer has failed: D's connection fails
//     with an error wrapping ErrResumeTimeout, as does S's end of it once
//     S runs again; D's Join then makes a new link, which carries a new
//     transfer.
//   - addr: the test moves D to a new address (ip addr del, add) on the
//     same veth: D redials from it and the link resumes; S's resume comes
//     from the new address.
const (
	resAddrS  = "10.200.4.1:7000"
	resNetS   = "10.200.4.1/24"
	resNetD   = "10.200.4.2/24"
	resNetD2  = "10.200.4.3/24" // D's address after the move
	resHostD2 = "10.200.4.3"
	resBulk   = 64 << 20
	resDrop   = 5 * time.Second
	resFreeze = 10 * time.Second
	resWindow = 4 * time.Second
)

// resumeLab makes the namespaces of D and S and the veth between them.
func resumeLab(t *testing.T, tag string) *netnsLab {
	t.Helper()
	l := newNetnsLab(t, tag, "d", "s")
	l.veth("d", resNetD, "s", resNetS)
	l.forwarding("d", false)
	l.forwarding("s", false)
	return l
}

// resumePair starts S and D for case kase, and returns them and the
// case's directory.
func (l *netnsLab) resumePair(t *testing.T, kase string) (d, s *netnsHost, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	t.Cleanup(cancel)
	if !strings.HasSuffix(kase, "-insecure") {
		l.shareCA(t, kase)
	}
	s = l.start(t, ctx, "s", "TestNetnsResumeHost", "s", kase)
	d = l.start(t, ctx, "d", "TestNetnsResumeHost", "d", kase)
	return d, s, filepath.Join(l.dir, kase)
}

// resumeEnd waits for D to end, stops S, logs what they reported, and
// fails if either failed.
func resumeEnd(t *testing.T, start time.Time, d, s *netnsHost) {
	t.Helper()
	errD := d.wait()
	errS := s.stop()
	for _, h := range []*netnsHost{d, s} {
		for _, line := range h.lines() {
			t.Logf("%s %s", strings.ToUpper(h.role), line)
		}
	}
	if errD != nil || errS != nil {
		t.Fatalf("hosts D, S: %v, %v\nD:\n%s\nS:\n%s", errD, errS, d.out, s.out)
	}
	t.Logf("the case took %v", time.Since(start).Round(time.Millisecond))
}

// TestNetnsLinkDropResumes: a 64 MiB transfer between neighbours goes on
// across 5 s in which every packet of the link is dropped (iptables, in
// S's namespace, both directions): the link breaks at both ends and
// resumes, the same link and the same connection, the bytes intact.
func TestNetnsLinkDropResumes(t *testing.T) {
	l := resumeLab(t, "r")
	if _, err := lookTool("iptables"); err != nil {
		t.Skip("skipped: the test needs iptables (Debian's iptables package; make deps installs it)")
	}
	start := time.Now()
	d, s, dir := l.resumePair(t, "drop")
	hosts := []*netnsHost{d, s}
	hostFiles(t, dir, "D to send half of the transfer", hosts, "half")
	ifS := l.prefix + "sd"
	rules := [][]string{{"INPUT", "-i", ifS, "-j", "DROP"}, {"OUTPUT", "-o", ifS, "-j", "DROP"}}
	for _, r := range rules {
		l.iptables("s", append([]string{"-A"}, r...)...)
	}
	dropped := time.Now()
	natSignal(t, dir, "go", "")
	hostFiles(t, dir, "both ends to see the link break", hosts, "d-broke", "s-broke")
	if rest := time.Until(dropped.Add(resDrop)); rest > 0 {
		time.Sleep(rest) // the drop's length, not a wait for a condition
	}
	for _, r := range rules {
		l.iptables("s", append([]string{"-D"}, r...)...)
	}
	t.Logf("dropped the link's packets for %v", time.Since(dropped).Round(time.Millisecond))
	resumeEnd(t, start, d, s)
}

// TestNetnsLinkFrozenPeer: S's process is stopped (SIGSTOP) mid-transfer.
// Continued (SIGCONT) 10 s later, within the default resume window, the
// link resumes and the transfer completes intact. Continued only once D's
// transfer has failed, past a 4 s window, the connection fails at both
// ends with an error wrapping ErrResumeTimeout, and D makes a new link.
func TestNetnsLinkFrozenPeer(t *testing.T) {
	l := resumeLab(t, "f")
	for _, kase := range []string{"frozen", "window"} {
		t.Run(kase, func(t *testing.T) {
			start := time.Now()
			d, s, dir := l.resumePair(t, kase)
			hosts := []*netnsHost{d, s}
			hostFiles(t, dir, "D to send half of the transfer", hosts, "half")
			s.signal(t, syscall.SIGSTOP)
			stopped := time.Now()
			cont := func() { s.signal(t, syscall.SIGCONT) }
			defer func() { // a test that fails meanwhile leaves no stopped process
				if !s.exited() {
					s.cmd.Process.Signal(syscall.SIGCONT)
				}
			}()
			natSignal(t, dir, "go", "")
			if kase == "frozen" {
				hostFiles(t, dir, "D to see the link break", []*netnsHost{d}, "d-broke")
				if rest := time.Until(stopped.Add(resFreeze)); rest > 0 {
					time.Sleep(rest) // the stop's length, not a wait for a condition
				}
			} else {
				hostFiles(t, dir, "D's transfer to fail past the window", []*netnsHost{d}, "d-failed")
			}
			cont()
			t.Logf("S was stopped for %v", time.Since(stopped).Round(time.Millisecond))
			resumeEnd(t, start, d, s)
		})
	}
}

// TestNetnsLinkAddressChange: D's address changes mid-transfer (ip addr
// del, ip addr add, on the same veth): D's old connection is dead, D
// redials from the new address and the link resumes over it, the same
// link and the same connection, the transfer intact; S sees the resume
// come from the new address. On a secured mesh, S takes the resume at
// once (the certificate proves the peer); on an insecure one, only once
// its own keep-alive has seen the old connection die (until then it
// refuses, and D retries).
func TestNetnsLinkAddressChange(t *testing.T) {
	for _, kase := range []string{"addr", "addr-insecure"} {
		t.Run(kase, func(t *testing.T) {
			tag := "x"
			if strings.HasSuffix(kase, "-insecure") {
				tag = "y"
			}
			l := resumeLab(t, tag)
			start := time.Now()
			d, s, dir := l.resumePair(t, kase)
			hostFiles(t, dir, "D to send half of the transfer", []*netnsHost{d, s}, "half")
			ifD := l.prefix + "ds"
			l.must("take D's address away", "-n", l.ns["d"], "addr", "del", resNetD, "dev", ifD)
			l.must("give D a new address", "-n", l.ns["d"], "addr", "add", resNetD2, "dev", ifD)
			natSignal(t, dir, "go", "")
			resumeEnd(t, start, d, s)
		})
	}
}

// TestNetnsResumeHost is one host of the resumable-link tests; it runs
// only in a re-executed test binary.
func TestNetnsResumeHost(t *testing.T) {
	role, dir, kase := os.Getenv(netnsRole), os.Getenv(netnsDir), os.Getenv(netnsCase)
	if role == "" {
		t.Skip("a host of the resumable-link netns tests, run by them")
	}
	rl := &resumeLog{}
	opts := []Option{WithName("netns"), WithResume(true), WithLogger(slog.New(rl))}
	if !strings.HasSuffix(kase, "-insecure") {
		opts = append(opts, netnsTLS(t, dir))
	}
	kase = strings.TrimSuffix(kase, "-insecure")
	if kase == "window" {
		opts = append(opts, WithResumeWindow(resWindow))
	}
	n := newNode(t, opts...)
	watchLink(t, n, dir, role)
	switch role {
	case "s":
		resumeS(t, n, dir, kase, rl)
	case "d":
		resumeD(t, n, dir, kase)
	}
}

// resumeS plays S: it serves links and the sink, and once told to stop,
// checks how the link and the sink's connections fared.
func resumeS(t *testing.T, n *Node, dir, kase string, rl *resumeLog) {
	stop := stopSignal()
	if err := n.ListenAndServe("tcp", ":7000"); err != nil {
		t.Fatal(err)
	}
	ln, err := n.Listen("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	ends := make(chan error, 8) // how each of the sink's connections ended
	countedSink(t, ln, dir, ends, nil)
	natSignal(t, dir, "s", FormatID(n.ID()))
	waitStop(t, stop)

	conns := 1
	if kase == "window" {
		conns = 2 // the one that failed, and the one on the new link
	}
	var clean, timedOut int
	for i := range conns {
		select {
		case err := <-ends:
			fmt.Printf("netns: S: the sink's connection %d ended: %v\n", i+1, err)
			switch {
			case err == nil:
				clean++
			case errors.Is(err, ErrResumeTimeout):
				timedOut++
			default:
				t.Errorf("the sink's connection ended with %v", err)
			}
		case <-time.After(patience):
			t.Fatalf("the sink's connection %d never ended", i+1)
		}
	}
	select {
	case err := <-ends:
		t.Errorf("the sink served one more connection than %d (ended: %v)", conns, err)
	default:
	}
	// D has ended: its links, the one past its window included, are gone.
	eventually(t, "S's links to go", func() bool { return len(n.Links()) == 0 })
	st := n.Stats()
	fmt.Printf("netns: S: links up %d, breaks %d, resumes %d, refused %d; resumes came from %v\n",
		st.LinkUps, st.LinkBreaks, st.LinkResumes, st.LinkResumesRefused, rl.remotes())
	if kase == "window" {
		if clean != 1 || timedOut != 1 {
			t.Errorf("the sink's connections: %d intact, %d failed with ErrResumeTimeout; want 1 and 1", clean, timedOut)
		}
		if st.LinkUps != 2 || st.LinkBreaks < 1 || st.LinkResumes != 0 {
			t.Errorf("S: %d links up, %d breaks, %d resumes; want 2 links (the one past its window, and a new one), a break, no resume", st.LinkUps, st.LinkBreaks, st.LinkResumes)
		}
		return
	}
	if clean != 1 {
		t.Errorf("the transfer's connection did not end cleanly at the sink")
	}
	if st.LinkUps != 1 || st.LinkBreaks < 1 || st.LinkResumes < 1 {
		t.Errorf("S: %d links up, %d breaks, %d resumes; want 1 link, broken and resumed", st.LinkUps, st.LinkBreaks, st.LinkResumes)
	}
	if kase == "addr" {
		// The address is the one the resume's log record gives: Links()
		// keeps the first connection's addresses after a resume.
		moved := false
		for _, r := range rl.remotes() {
			if host, _, _ := net.SplitHostPort(r); host == resHostD2 {
				moved = true
			}
		}
		if !moved {
			t.Errorf("no resume came from D's new address %s: %v", resHostD2, rl.remotes())
		}
	}
}

// resumeD plays D: it joins S and sends to its sink, pausing at half for
// the test to break the path; then it checks the transfer and the link.
func resumeD(t *testing.T, n *Node, dir, kase string) {
	sID := natID(t, dir, "s")
	if err := n.Join("tcp", resAddrS); err != nil {
		t.Fatal(err)
	}
	eventually(t, "S's sink to be seen one hop away", func() bool {
		s := n.Services()
		return len(s) == 1 && s[0].Name == "sink" && s[0].Hops == 1
	})
	l0, ok := linkTo(n, sID)
	if !ok {
		t.Fatal("no link to S")
	}
	conn, err := n.Dial("", "sink")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Printf("netns: D: linked to S, %v -> %v\n", l0.LocalAddr, l0.RemoteAddr)
	start := time.Now()
	err = sendPausing(conn, dir, resBulk, 1)
	took := time.Since(start).Round(time.Millisecond)
	st := n.Stats()
	if kase == "window" {
		if !errors.Is(err, ErrResumeTimeout) {
			t.Fatalf("the transfer past the window: %v, want an error wrapping ErrResumeTimeout", err)
		}
		fmt.Printf("netns: D: the transfer failed after %v, past the window: %v\n", took, err)
		natSignal(t, dir, "d-failed", "")
		conn.Close()
		eventually(t, "a new link to S, and S's sink over it", func() bool {
			l, ok := linkTo(n, sID)
			s := n.Services()
			return ok && l.Since.After(l0.Since) && len(s) == 1 && s[0].Hops == 1
		})
		conn2, err := n.Dial("", "sink")
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.Close()
		transfer(t, conn2, 1<<20, 2)
		conn2.Close()
		if err := awaitFile(dir, "sink-end-2"); err != nil { // D stays up until S has both ends
			t.Fatal(err)
		}
		st = n.Stats()
		fmt.Printf("netns: D: 1 MiB over the new link, SHA-256 ok; links up %d, breaks %d, resumes %d\n", st.LinkUps, st.LinkBreaks, st.LinkResumes)
		if st.LinkUps != 2 || st.LinkBreaks < 1 || st.LinkResumes != 0 {
			t.Errorf("D: %d links up, %d breaks, %d resumes; want 2 links (the one past its window, and a new one), a break, no resume", st.LinkUps, st.LinkBreaks, st.LinkResumes)
		}
		return
	}
	if err != nil {
		t.Fatalf("the transfer, after %v: %v", took, err)
	}
	conn.Close()
	if err := awaitFile(dir, "sink-end-1"); err != nil { // D stays up until S has the end
		t.Fatal(err)
	}
	fmt.Printf("netns: D: %d MiB in %v on one connection, SHA-256 ok; links up %d, breaks %d, resumes %d\n",
		resBulk>>20, took, st.LinkUps, st.LinkBreaks, st.LinkResumes)
	if st.LinkUps != 1 || st.LinkBreaks < 1 || st.LinkResumes < 1 {
		t.Errorf("D: %d links up, %d breaks, %d resumes; want 1 link, broken and resumed", st.LinkUps, st.LinkBreaks, st.LinkResumes)
	}
	var links []LinkInfo
	for _, l := range n.Links() {
		if l.Peer == sID {
			links = append(links, l)
		}
	}
	if len(links) != 1 || !links[0].Since.Equal(l0.Since) {
		t.Errorf("D's links to S: %+v; want the first one only (up since %v)", links, l0.Since)
	}
}

// watchLink leaves, in dir, the file "<role>-broke" once n counts a link
// break and "<role>-resumed" once it counts a resume, until the test ends.
func watchLink(t *testing.T, n *Node, dir, role string) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var broke, resumed bool
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			st := n.Stats()
			if !broke && st.LinkBreaks >= 1 {
				broke = true
				if err := leaveFile(dir, role+"-broke"); err != nil {
					t.Error(err)
				}
			}
			if !resumed && st.LinkResumes >= 1 {
				resumed = true
				for _, l := range n.Links() {
					fmt.Printf("netns: %s: resumed; the link to %s says local %v, remote %v\n", strings.ToUpper(role), FormatID(l.Peer), l.LocalAddr, l.RemoteAddr)
				}
				if err := leaveFile(dir, role+"-resumed"); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		wg.Wait()
	})
}
