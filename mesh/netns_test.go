package mesh

import (
	"bytes"
	"context"
	"crypto"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The network-namespace tests: each host is a network namespace joined to
// others by veth pairs, and runs this test binary (re-executed with `ip
// netns exec`, told its role by an environment variable) as a mesh node.
// Addresses are in 10.200.0.0/16 and 10.201.0.0/16, inside the namespaces
// only: no traffic leaves them. Deleting a namespace deletes its links and
// its iptables rules, so cleaning up is deleting the namespaces.

// netnsRole is the environment variable that makes a re-executed test
// binary play one host; netnsDir names a directory the hosts share (the
// namespaces share the file system), where they leave their ids and
// signals for each other; netnsCase says which case of a test a host plays.
const (
	netnsRole = "PLEXUS_MESH_NETNS_ROLE"
	netnsDir  = "PLEXUS_MESH_NETNS_DIR"
	netnsCase = "PLEXUS_MESH_NETNS_CASE"
)

// netnsLab is the set of namespaces of one test, deleted when it ends.
type netnsLab struct {
	t      *testing.T
	ipPath string
	prefix string            // of the namespaces' and the links' names
	ns     map[string]string // host -> namespace
	dir    string            // shared by the hosts (netnsDir)
}

// lookTool finds a command in PATH, or in the sbin directories that a
// root shell has in PATH but a test's environment may not.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

// newNetnsLab makes a namespace per host, with its loopback up, or skips
// the test saying why: not root, no ip command, or no namespaces here.
// tag (one letter) keeps the names of different tests apart.
func newNetnsLab(t *testing.T, tag string, hosts ...string) *netnsLab {
	t.Helper()
	if os.Getenv(netnsRole) != "" {
		t.Skip("running as a host of a netns test")
	}
	if os.Getuid() != 0 {
		t.Skip("skipped: the network-namespace tests need root (ip netns, veth)")
	}
	ipPath, err := lookTool("ip")
	if err != nil {
		t.Skip("skipped: the network-namespace tests need the ip command (iproute2)")
	}
	l := &netnsLab{
		t:      t,
		ipPath: ipPath,
		prefix: fmt.Sprintf("plx%s%d", tag, os.Getpid()%100000),
		ns:     make(map[string]string),
		dir:    t.TempDir(),
	}
	for _, h := range hosts {
		name := l.prefix + h
		if err := l.ip("netns", "add", name); err != nil {
			t.Skipf("skipped: cannot make network namespaces here: %v", err)
		}
		l.ns[h] = name
		t.Cleanup(func() { l.ip("netns", "del", name) })
		l.must("set up the namespaces", "-n", name, "link", "set", "lo", "up")
	}
	return l
}

// ip runs the ip command.
func (l *netnsLab) ip(args ...string) error {
	out, err := exec.Command(l.ipPath, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// must runs the ip command, and skips the test if it fails: the machine
// cannot make the test's network (what failing to do, says why).
func (l *netnsLab) must(what string, args ...string) {
	l.t.Helper()
	if err := l.ip(args...); err != nil {
		l.t.Skipf("skipped: cannot %s: %v", what, err)
	}
}

// in runs a command in host's namespace.
func (l *netnsLab) in(host string, name string, args ...string) error {
	args = append([]string{"netns", "exec", l.ns[host], name}, args...)
	out, err := exec.Command(l.ipPath, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// forwarding turns IPv4 forwarding on or off in host's namespace (a new
// namespace may inherit it from the machine's).
func (l *netnsLab) forwarding(host string, on bool) {
	l.t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	if err := l.in(host, "sh", "-c", "echo "+v+" > /proc/sys/net/ipv4/ip_forward"); err != nil {
		l.t.Skipf("skipped: cannot set IP forwarding in a namespace: %v", err)
	}
}

// veth links hosts x and y with a veth pair, named prefix+x+y in x and
// prefix+y+x in y, gives the ends the addresses addrX and addrY (CIDR),
// and brings them up.
func (l *netnsLab) veth(x, addrX, y, addrY string) {
	l.t.Helper()
	ifX, ifY := l.prefix+x+y, l.prefix+y+x
	l.must("set up the veth links", "link", "add", ifX, "netns", l.ns[x], "type", "veth", "peer", "name", ifY, "netns", l.ns[y])
	l.must("set up the veth links", "-n", l.ns[x], "addr", "add", addrX, "dev", ifX)
	l.must("set up the veth links", "-n", l.ns[y], "addr", "add", addrY, "dev", ifY)
	l.must("set up the veth links", "-n", l.ns[x], "link", "set", ifX, "up")
	l.must("set up the veth links", "-n", l.ns[y], "link", "set", ifY, "up")
}

// netnsHost is a re-executed test binary playing one host.
type netnsHost struct {
	role   string
	cmd    *exec.Cmd
	out    *syncBuffer
	stdin  io.WriteCloser
	done   chan struct{} // closed when the process has ended
	waited bool
	err    error
}

// start runs the test named test (a host's test function) in host's
// namespace as role, in the case kase, which has a directory of its own
// under the shared one. Closing its stdin (stop) tells it to stop; a host
// the test did not stop is killed and waited for when t ends, before the
// namespaces go.
func (l *netnsLab) start(t *testing.T, ctx context.Context, host, test, role, kase string) *netnsHost {
	t.Helper()
	dir := filepath.Join(l.dir, kase)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, l.ipPath, "netns", "exec", l.ns[host], os.Args[0],
		"-test.run", "^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsRole+"="+role, netnsDir+"="+dir, netnsCase+"="+kase)
	h := &netnsHost{role: role, cmd: cmd, out: new(syncBuffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	h.stdin, _ = cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		if !h.waited {
			cmd.Process.Kill()
			h.wait()
		}
	})
	return h
}

// syncBuffer is a host's output: written by the process's copier, read
// by the test while the host runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// wait waits for the host to end, and returns how it did.
func (h *netnsHost) wait() error {
	<-h.done
	h.waited = true
	return h.err
}

// exited reports whether the host's process has ended.
func (h *netnsHost) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// stop tells the host to stop, and waits for it.
func (h *netnsHost) stop() error {
	h.stdin.Close()
	return h.wait()
}

// lines returns the lines of the host's output that start with "netns:",
// what it reports, and its test's result line.
func (h *netnsHost) lines() []string {
	var ls []string
	for _, s := range strings.Split(h.out.String(), "\n") {
		if s = strings.TrimSpace(s); strings.HasPrefix(s, "netns:") || strings.HasPrefix(s, "--- ") {
			ls = append(ls, s)
		}
	}
	return ls
}

// stopSignal returns a channel that is closed when the orchestrating test
// closes this host's stdin.
func stopSignal() <-chan struct{} {
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	return stop
}

// waitStop waits until stop is closed, at most 4*patience (a host may
// wait for the whole of a long transfer between two others).
func waitStop(t *testing.T, stop <-chan struct{}) {
	t.Helper()
	select {
	case <-stop:
	case <-time.After(4 * patience):
		t.Error("never told to stop")
	}
}

// TestNetnsThreeHosts: three hosts A - B - C, where A and C have no IP
// path to each other; A reaches a service of C by name, through B.
//
// Addresses: A 10.200.0.1/30 - B 10.200.0.2/30, B 10.200.0.5/30 -
// C 10.200.0.6/30. B does not forward IP.
func TestNetnsThreeHosts(t *testing.T) {
	l := newNetnsLab(t, "m", "a", "b", "c")
	l.veth("a", "10.200.0.1/30", "b", "10.200.0.2/30")
	l.veth("b", "10.200.0.5/30", "c", "10.200.0.6/30")
	l.forwarding("b", false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	b := l.start(t, ctx, "b", "TestNetnsHost", "b", "")
	c := l.start(t, ctx, "c", "TestNetnsHost", "c", "")
	a := l.start(t, ctx, "a", "TestNetnsHost", "a", "")
	errA := a.stop() // A does not wait to be told
	errB, errC := b.stop(), c.stop()
	t.Logf("host A:\n%s", a.out)
	if errA != nil || !strings.Contains(a.out.String(), "netns: A reached echo on C through B") {
		t.Logf("host B:\n%s", b.out)
		t.Logf("host C:\n%s", c.out)
		t.Fatalf("host A failed: %v", errA)
	}
	if errB != nil || errC != nil {
		t.Fatalf("hosts B, C: %v, %v\nB:\n%s\nC:\n%s", errB, errC, b.out, c.out)
	}
}

// TestNetnsHost is one host of TestNetnsThreeHosts; it runs only in a
// re-executed test binary.
func TestNetnsHost(t *testing.T) {
	role := os.Getenv(netnsRole)
	if role == "" {
		t.Skip("a host of TestNetnsThreeHosts, run by it")
	}
	n := newNode(t, WithName("netns"))
	switch role {
	case "b":
		stop := stopSignal()
		if err := n.ListenAndServe("tcp", ":7000"); err != nil {
			t.Fatal(err)
		}
		waitStop(t, stop)
	case "c":
		stop := stopSignal()
		if err := n.Join("tcp", "10.200.0.5:7000"); err != nil {
			t.Fatal(err)
		}
		ln, err := n.Listen("", "echo")
		if err != nil {
			t.Fatal(err)
		}
		echo(t, ln)
		waitStop(t, stop)
	case "a":
		// No IP path to C.
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.Dial("tcp", "10.200.0.6:7000"); err == nil {
			c.Close()
			t.Fatal("A reaches C over IP: the test network is wrong")
		}
		if err := n.Join("tcp", "10.200.0.2:7000"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "echo to be seen two hops away", func() bool {
			s := n.Services()
			return len(s) == 1 && s[0].Name == "echo" && s[0].Hops == 2
		})
		c, err := n.Dial("", "echo")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, "hello from A")
		c.Close()
		fmt.Printf("netns: A reached echo on C through B; routes %v\n", n.Routes())
	}
}

// signal sends sig to the host's process. `ip netns exec` execs the
// command in place (it forks only in batch mode), so the process started
// is the re-executed test binary itself, which signal checks: a SIGSTOP
// must stop the node, not ip.
func (h *netnsHost) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", h.cmd.Process.Pid))
	if err != nil || !os.SameFile(exe, self) {
		t.Fatalf("host %s: process %d does not run the test binary (%v)", h.role, h.cmd.Process.Pid, err)
	}
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("host %s: %v: %v", h.role, sig, err)
	}
}

// iptables runs iptables with args in host's namespace; the test is
// skipped if the machine has no iptables or it does not work here.
func (l *netnsLab) iptables(host string, args ...string) {
	l.t.Helper()
	path, err := lookTool("iptables")
	if err != nil {
		l.t.Skip("skipped: the test needs iptables (Debian's iptables package; make deps installs it)")
	}
	if err := l.in(host, path, args...); err != nil {
		l.t.Skipf("skipped: iptables does not work here: %v", err)
	}
}

// shareCA makes a mesh CA for the hosts of case kase, and leaves it in
// the case's directory, where netnsTLS finds it: the hosts of the case
// are then a secured mesh.
func (l *netnsLab) shareCA(t *testing.T, kase string) {
	t.Helper()
	dir := filepath.Join(l.dir, kase)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newCA(t)
	key, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"ca.der": ca.cert.Raw, "ca.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// netnsTLS, in a host, returns the WithTLS option of a new node
// certificate (a serial number of its own) from the CA that shareCA left
// in dir.
func netnsTLS(t *testing.T, dir string) Option {
	t.Helper()
	der, err := os.ReadFile(filepath.Join(dir, "ca.der"))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("the CA's key is a %T", key)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ca := &testCA{cert: cert, key: signer, pool: pool}
	sn, err := cryptorand.Int(cryptorand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return WithTLS(ca.nodeConfigWith(t, true, func(c *x509.Certificate) { c.SerialNumber = sn }))
}

// hostFiles waits until every file of names is in dir (what: what they
// say), at most patience, and fails at once, with the hosts' output, if
// one of hosts ends meanwhile or the time is up.
func hostFiles(t *testing.T, dir, what string, hosts []*netnsHost, names ...string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		var gone *netnsHost
		for _, h := range hosts {
			if h.exited() {
				gone = h
			}
		}
		here := true
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				here = false
			}
		}
		switch {
		case here && gone == nil:
			return
		case gone != nil:
			t.Fatalf("waiting for %s: host %s ended: %v\n%s", what, strings.ToUpper(gone.role), gone.err, outputs(hosts))
		case time.Now().After(deadline):
			t.Fatalf("timed out waiting for %s\n%s", what, outputs(hosts))
		}
		time.Sleep(10 * time.Millisecond) // polls the files
	}
}

// outputs returns the output of hosts so far, each under its name.
func outputs(hosts []*netnsHost) string {
	var b strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&b, "%s:\n%s\n", strings.ToUpper(h.role), h.out)
	}
	return b.String()
}

// sendPausing sends size pseudo-random bytes (from seed) to a sink on c
// as transfer does, but stops at half: it leaves the file "half" in dir
// and waits for the file "go" before it writes the rest. It returns nil
// if the sink got them intact (its SHA-256), else why not.
func sendPausing(c net.Conn, dir string, size int64, seed byte) error {
	c.SetDeadline(time.Now().Add(3 * patience)) // a safety net: 200 MiB under the race detector on a loaded machine
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{seed})
	w := io.MultiWriter(h, c)
	if _, err := c.Write(binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
		return err
	}
	if _, err := io.CopyN(w, src, size/2); err != nil {
		return fmt.Errorf("the first half: %w", err)
	}
	if err := leaveFile(dir, "half"); err != nil {
		return err
	}
	if err := awaitFile(dir, "go"); err != nil {
		return err
	}
	if _, err := io.CopyN(w, src, size-size/2); err != nil {
		return fmt.Errorf("the second half: %w", err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("the sink's SHA-256: %w", err)
	}
	if want := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("the sink got SHA-256 %x, sent %x", got, want)
	}
	return nil
}

// sinkConn serves one connection of a sink (see sink) and returns nil
// once the peer ends it between two transfers, else the error that ended
// it.
func sinkConn(c io.ReadWriter) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.CopyN(h, c, int64(binary.BigEndian.Uint64(hdr[:]))); err != nil {
			return err
		}
		if _, err := c.Write(h.Sum(nil)); err != nil {
			return err
		}
	}
}

// countedSink serves ln as a sink (sinkConn) and sends how each of its
// connections ended to ends; after the kth has ended it leaves the file
// "sink-end-k" in dir, so that a sender can stay up until its end of the
// connection has reached the sink. wrap, if not nil, wraps each
// connection first.
func countedSink(t *testing.T, ln net.Listener, dir string, ends chan<- error, wrap func(net.Conn) io.ReadWriter) {
	t.Helper()
	var mu sync.Mutex
	k := 0
	serveEach(t, ln, func(c net.Conn) {
		var rw io.ReadWriter = c
		if wrap != nil {
			rw = wrap(c)
		}
		err := sinkConn(rw)
		mu.Lock()
		k++
		name := fmt.Sprintf("sink-end-%d", k)
		mu.Unlock()
		if ferr := leaveFile(dir, name); ferr != nil {
			t.Error(ferr)
		}
		ends <- err
	})
}

// leaveFile leaves an empty file name in dir, for the other processes of
// a test (as natSignal does, without a test to fail).
func leaveFile(dir, name string) error {
	tmp := filepath.Join(dir, "."+name)
	if err := os.WriteFile(tmp, nil, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// awaitFile waits, at most patience, for the file name in dir.
func awaitFile(dir, name string) error {
	deadline := time.Now().Add(patience)
	for {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no file %q within %v", name, patience)
		}
		time.Sleep(10 * time.Millisecond) // polls the file
	}
}

// resumeLog is a log handler that keeps the remote addresses of the
// resumes a node logs ("mesh: link resumed"), and prints every record.
type resumeLog struct {
	mu  sync.Mutex
	rem []string
}

func (r *resumeLog) Enabled(context.Context, slog.Level) bool { return true }

func (r *resumeLog) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "log: %s %s %q", rec.Time.Format("15:04:05.000"), rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		if rec.Message == "mesh: link resumed" && a.Key == "remote" {
			r.mu.Lock()
			r.rem = append(r.rem, a.Value.String())
			r.mu.Unlock()
		}
		return true
	})
	fmt.Println(b.String())
	return nil
}

func (r *resumeLog) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *resumeLog) WithGroup(string) slog.Handler      { return r }

// remotes returns the remote addresses of the resumes logged so far.
func (r *resumeLog) remotes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.rem...)
}

// The diamond of namespaces: four hosts, A and C linked through B and through D, A and
// C not neighbours; no host forwards IP, so A and C have no IP path to
// each other either.
//
//	       B
//	.1/30 / \ .5/30
//	     /   \
//	    A     C
//	     \   /
//	.9/30 \ / .13/30
//	       D
//
// A 10.200.8.1 - B 10.200.8.2, B 10.200.8.5 - C 10.200.8.6,
// A 10.200.8.9 - D 10.200.8.10, D 10.200.8.13 - C 10.200.8.14.
const (
	diamondAtoB = "10.200.8.2:7000"  // B, on A's side
	diamondCtoB = "10.200.8.5:7000"  // B, on C's side
	diamondAtoD = "10.200.8.10:7000" // D, on A's side
	diamondCtoD = "10.200.8.13:7000" // D, on C's side
)

// netnsDiamond makes the four hosts a, b, c, d of the diamond (tag as for
// newNetnsLab); B and D are to serve on :7000, A and C to join them.
func netnsDiamond(t *testing.T, tag string) *netnsLab {
	t.Helper()
	l := newNetnsLab(t, tag, "a", "b", "c", "d")
	l.veth("a", "10.200.8.1/30", "b", "10.200.8.2/30")
	l.veth("b", "10.200.8.5/30", "c", "10.200.8.6/30")
	l.veth("a", "10.200.8.9/30", "d", "10.200.8.10/30")
	l.veth("d", "10.200.8.13/30", "c", "10.200.8.14/30")
	for _, h := range []string{"a", "b", "c", "d"} {
		l.forwarding(h, false)
	}
	return l
}

// sinkTwoHops waits until n sees the service "sink" two hops away, alone,
// and returns its host.
func sinkTwoHops(t *testing.T, n *Node) uint64 {
	t.Helper()
	var host uint64
	eventually(t, "C's sink to be seen two hops away", func() bool {
		s := n.Services()
		if len(s) == 1 && s[0].Name == "sink" && s[0].Hops == 2 {
			host = s[0].Host
			return true
		}
		return false
	})
	return host
}
