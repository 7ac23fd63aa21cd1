package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/transport"
)

// proc is a plexus or nngcat process running in the background.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string // standard output, line by line
	done  chan struct{}

	mu     sync.Mutex
	stdout bytes.Buffer // all of standard output
	stderr bytes.Buffer
}

// lockedWriter is a writer behind proc's mutex.
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// start runs path with args in the background until it exits or the
// test ends.
func start(t *testing.T, path string, args ...string) *proc {
	t.Helper()
	return startStdin(t, nil, path, args...)
}

// startStdin is start with stdin as standard input (nil: none).
func startStdin(t *testing.T, stdin io.Reader, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(path), cmd: exec.Command(path, args...), lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Stdin = stdin
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		defer close(p.lines)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			p.mu.Lock()
			p.stdout.WriteString(line)
			p.mu.Unlock()
			if err != nil {
				return
			}
			select {
			case p.lines <- strings.TrimSuffix(line, "\n"):
			default:
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s %s: stdout %q, stderr %q", p.name, strings.Join(args, " "), p.out(), p.errOut())
		}
	})
	return p
}

// startPlexus runs the plexus command in the background.
func startPlexus(t *testing.T, args ...string) *proc { return start(t, plexusBin(t), args...) }

// nngcatPath returns the path of nngcat or skips the test.
func nngcatPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nngcat")
	if err != nil {
		t.Skip("nngcat is not installed (Debian: apt-get install nng-utils; 'make deps' does it): skipping this interop test")
	}
	return path
}

func (p *proc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *proc) errOut() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// line returns the next line the process prints.
func (p *proc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("%s exited: stderr %q", p.name, p.errOut())
		}
		return l
	case <-time.After(testutil.Patience):
		t.Fatalf("%s printed nothing", p.name)
	}
	return ""
}

// wait waits for the process to exit and returns its status and its
// whole standard output.
func (p *proc) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(testutil.Patience):
		t.Fatalf("%s did not exit", p.name)
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), p.out()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, p.out()
}

// listening reads the "Listening at: URL" line of a plexus sock run with
// --verbose and returns the URL.
func (p *proc) listening(t *testing.T) string {
	t.Helper()
	l := p.line(t)
	u, ok := strings.CutPrefix(l, "Listening at: ")
	if !ok {
		t.Fatalf("first line %q, want Listening at: URL", l)
	}
	return u
}

// until runs path with args until it exits 0, for a dialer whose peer
// may not listen yet, and returns its standard output.
func until(t *testing.T, path string, args ...string) string {
	t.Helper()
	return untilStdin(t, "", path, args...)
}

// untilStdin is until with stdin as standard input.
func untilStdin(t *testing.T, stdin, path string, args ...string) string {
	t.Helper()
	var out string
	testutil.WaitFor(t, filepath.Base(path)+" "+strings.Join(args, " ")+" to exit 0", func() (err error) {
		out, err = runOnce(stdin, path, args...)
		return err
	})
	return out
}

// runOnce runs path with args and stdin, and returns its standard
// output, or an error with its standard error if it does not exit 0.
func runOnce(stdin, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, errOut.String())
	}
	return out.String(), nil
}

// at and atPort are the places of the URL and of its port in the
// arguments of onFreeURL's commands.
const at, atPort = "<url>", "<port>"

// withURL returns args with at replaced by url and atPort by its port.
func withURL(url string, args []string) []string {
	a := slices.Clone(args)
	for i := range a {
		a[i] = strings.ReplaceAll(a[i], at, url)
		a[i] = strings.ReplaceAll(a[i], atPort, port(url))
	}
	return a
}

// port returns the port of url (what follows its last colon).
func port(url string) string { return url[strings.LastIndexByte(url, ':')+1:] }

// onFreeURL starts a listener on a free URL of scheme (listen runs it,
// given the URL), then runs the dialer (path with stdin and args, at
// replaced by the URL) until it exits 0, and returns the listener, the
// URL and the dialer's standard output. A port free when FreeURL looked
// may be taken when the listener binds it (by a connection of another
// test process): a listener that exits before a dial succeeded is started
// again on another URL.
func onFreeURL(t *testing.T, scheme string, listen func(url string) *proc, stdin, path string, args ...string) (l *proc, url, out string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		if url = testutil.FreeURL(t, strings.TrimPrefix(scheme, "tls+")); scheme == "tls+tcp" {
			url = strings.Replace(url, "tcp://", "tls+tcp://", 1)
		}
		l = listen(url)
		exited := false
		testutil.WaitFor(t, filepath.Base(path)+" to dial "+l.name+" on "+url, func() (err error) {
			select {
			case <-l.done:
				exited = true
				return nil
			default:
			}
			out, err = runOnce(stdin, path, withURL(url, args)...)
			return err
		})
		if !exited {
			return l, url, out
		}
		if attempt == 3 {
			t.Fatalf("%s exited before a dial came, 3 times: %s", l.name, l.errOut())
		}
		t.Logf("%s exited before listening on %s (taken meanwhile?): again on another URL: %s", l.name, url, l.errOut())
	}
}

// TestSockFormats: each output format prints the bytes nngcat's does
// (checked against nngcat itself in TestSockFormatsAsNngcat).
func TestSockFormats(t *testing.T) {
	msg := []byte("a\tb\xc3\xa9\"\\\x01\n\r~ \x00")
	for f, want := range map[msgFormat]string{
		formatNone:    "",
		formatRaw:     string(msg),
		formatASCII:   `a.b.."\...~ .`,
		formatQuoted:  `"a\tb\xc3\xa9\"\\\x01\n\r~ \x00"` + "\n",
		formatHex:     `"\x61\x09\x62\xc3\xa9\x22\x5c\x01\x0a\x0d\x7e\x20\x00"` + "\n",
		formatMsgpack: "\xc4\x0d" + string(msg),
	} {
		if got := string(appendMessage(nil, f, msg)); got != want {
			t.Errorf("format %d: %q, want %q", f, got, want)
		}
	}
	long := bytes.Repeat([]byte{'x'}, 70000)
	if got := appendMessage(nil, formatMsgpack, long[:300]); !bytes.Equal(got[:3], []byte{0xc5, 0x01, 0x2c}) {
		t.Errorf("msgpack of 300 bytes: % x", got[:3])
	}
	if got := appendMessage(nil, formatMsgpack, long); !bytes.Equal(got[:5], []byte{0xc6, 0, 1, 0x11, 0x70}) {
		t.Errorf("msgpack of 70000 bytes: % x", got[:5])
	}
}

// TestSockFormatsAsNngcat: a message of all 256 byte values, pushed by
// nngcat, is printed by plexus sock --pull0 exactly as nngcat --pull0
// prints it, in every format.
func TestSockFormatsAsNngcat(t *testing.T) {
	nngcat := nngcatPath(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	file := filepath.Join(t.TempDir(), "all")
	if err := os.WriteFile(file, all, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"raw", "ascii", "quoted", "hex", "msgpack"} {
		ref, _, _ := onFreeURL(t, "tcp", func(url string) *proc {
			return start(t, nngcat, "--pull0", "--listen", url, "--format", f, "--count", "1")
		}, "", nngcat, "--push0", "--dial", at, "--file", file)
		_, want := ref.wait(t)

		p, _, _ := onFreeURL(t, "tcp", func(url string) *proc {
			return startPlexus(t, "sock", "--pull0", "--listen", url, "--format", f, "--count", "1")
		}, "", nngcat, "--push0", "--dial", at, "--file", file)
		code, got := p.wait(t)
		if code != 0 || got != want {
			t.Errorf("--format %s: exit %d\nplexus: %q\nnngcat: %q", f, code, got, want)
		}
	}
}

// TestSockNNGReqRep: plexus sock's rep answers nngcat's req, and
// nngcat's rep answers plexus sock's req.
func TestSockNNGReqRep(t *testing.T) {
	nngcat := nngcatPath(t)
	rep := startPlexus(t, "sock", "--rep0", "--listen", "tcp://127.0.0.1:0", "-v", "--data", "pong from plexus", "-Q", "--count", "1")
	url := rep.listening(t)
	if out := until(t, nngcat, "--req0", "--dial", url, "--data", "ping from nngcat", "-Q"); out != "\"pong from plexus\"\n" {
		t.Errorf("nngcat req printed %q", out)
	}
	if code, out := rep.wait(t); code != 0 || out != "Listening at: "+url+"\n\"ping from nngcat\"\n" {
		t.Errorf("plexus rep: exit %d, %q", code, out)
	}

	nrep, _, out := onFreeURL(t, "tcp", func(url string) *proc {
		return start(t, nngcat, "--rep0", "--listen", url, "--data", "pong from nngcat", "-Q")
	}, "", plexusBin(t), "sock", "--req0", "--dial", at, "--data", "ping from plexus", "-Q")
	if out != "\"pong from nngcat\"\n" {
		t.Errorf("plexus req printed %q", out)
	}
	if l := nrep.line(t); l != `"ping from plexus"` {
		t.Errorf("nngcat rep printed %q", l)
	}
}

// TestSockNNGPubSub: nngcat's sub hears plexus sock's pub, and plexus
// sock's sub hears nngcat's pub, by topic. SIGTERM ends plexus sock with
// status 0.
func TestSockNNGPubSub(t *testing.T) {
	nngcat := nngcatPath(t)
	pub := startPlexus(t, "sock", "--pub0", "--listen", "tcp://127.0.0.1:0", "-v", "--data", "news: from plexus", "--interval", "20ms")
	url := pub.listening(t)
	sub := start(t, nngcat, "--sub0", "--dial", url, "--subscribe", "news", "-Q", "--count", "2")
	if code, out := sub.wait(t); code != 0 || out != strings.Repeat("\"news: from plexus\"\n", 2) {
		t.Errorf("nngcat sub: exit %d, %q", code, out)
	}
	pub.cmd.Process.Signal(syscall.SIGTERM)
	if code, _ := pub.wait(t); code != 0 {
		t.Errorf("plexus pub exited %d on SIGTERM: %s", code, pub.errOut())
	}

	_, url, out := onFreeURL(t, "tcp", func(url string) *proc {
		return start(t, nngcat, "--pub0", "--listen", url, "--data", "news: from nngcat", "--interval", "1")
	}, "", plexusBin(t), "sock", "--sub0", "--dial", at, "--subscribe", "news", "--subscribe", "weather", "-Q", "-C", "2")
	if out != strings.Repeat("\"news: from nngcat\"\n", 2) {
		t.Errorf("plexus sub printed %q", out)
	}
	// A topic that nothing matches: the receive times out, status 0.
	if out := until(t, plexusBin(t), "sock", "--sub0", "--dial", url, "--subscribe", "sport", "-Q", "--recv-timeout", "1500ms"); out != "" {
		t.Errorf("plexus sub of another topic printed %q", out)
	}
}

// TestSockNNGPushPull: nngcat's pull takes what plexus sock's push sends,
// and plexus sock's pull what nngcat's push sends.
func TestSockNNGPushPull(t *testing.T) {
	nngcat := nngcatPath(t)
	pull, _, _ := onFreeURL(t, "tcp", func(url string) *proc {
		return start(t, nngcat, "--pull0", "--listen", url, "-Q", "--count", "3")
	}, "", plexusBin(t), "sock", "--push0", "--dial", at, "--data", "job from plexus", "--count", "3", "--interval", "10ms")
	if code, out := pull.wait(t); code != 0 || out != strings.Repeat("\"job from plexus\"\n", 3) {
		t.Errorf("nngcat pull: exit %d, %q", code, out)
	}

	ppull := startPlexus(t, "sock", "--pull0", "--listen", "tcp://127.0.0.1:0", "-v", "-A", "--count", "2")
	url := ppull.listening(t)
	until(t, nngcat, "--push0", "--dial", url, "--data", "job\tfrom nngcat;", "--count", "2")
	if code, out := ppull.wait(t); code != 0 || out != "Listening at: "+url+"\njob.from nngcat;job.from nngcat;" {
		t.Errorf("plexus pull: exit %d, %q", code, out)
	}
}

// TestSockSelf: plexus sock talks to itself over ipc, ws and tls+tcp
// (with certificates from plexus cert), and with the protocols the
// nngcat tests leave out: surveyor/respondent, pair, bus. --file -
// sends standard input.
func TestSockSelf(t *testing.T) {
	dir := t.TempDir()
	mustPlexus(t, "cert", "ca", "--out", dir)
	mustPlexus(t, "cert", "node", "--ca", dir, "--name", "server", "--out", dir, "--host", "127.0.0.1")
	for _, scheme := range []string{"ipc", "ws", "tls+tcp"} {
		rep, url, out := onFreeURL(t, scheme, func(url string) *proc {
			return startPlexus(t, "sock", "--rep0", "--listen", url, "--data", "pong", "-Q", "-C", "1",
				"--cert", filepath.Join(dir, "server.crt"), "--key", filepath.Join(dir, "server.key"))
		}, "", plexusBin(t), "sock", "--req0", "--dial", at, "--data", "ping", "--hex", "--cacert", filepath.Join(dir, "ca.crt"))
		if out != `"\x70\x6f\x6e\x67"`+"\n" {
			t.Errorf("%s: req printed %q", url, out)
		}
		if code, out := rep.wait(t); code != 0 || out != "\"ping\"\n" {
			t.Errorf("%s: rep: exit %d, %q", url, code, out)
		}
	}
	// A client that does not trust the server's CA is refused.
	rep := startPlexus(t, "sock", "--rep0", "--listen", "tls+tcp://127.0.0.1:0", "-v", "--data", "pong",
		"--cert", filepath.Join(dir, "server.crt"), "--key", filepath.Join(dir, "server.key"))
	url := rep.listening(t)
	if r := plexus(t, "", "sock", "--req0", "--dial", url, "--data", "ping"); r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("untrusted server: exit %d, %q", r.code, r.stderr)
	}

	// Surveyor and respondents: the survey ends after a second.
	resp, _, out := onFreeURL(t, "tcp", func(url string) *proc {
		return startPlexus(t, "sock", "--respondent0", "--listen", url, "--data", "here", "-Q", "-C", "1")
	}, "", plexusBin(t), "sock", "--surveyor0", "--dial", at, "--data", "who?", "-Q")
	if out != "\"here\"\n" {
		t.Errorf("surveyor printed %q", out)
	}
	if code, out := resp.wait(t); code != 0 || out != "\"who?\"\n" {
		t.Errorf("respondent: exit %d, %q", code, out)
	}

	// Pair and bus: each side sends and prints; --file - reads stdin.
	for _, proto := range []string{"--pair0", "--bus0"} {
		a, _, out := onFreeURL(t, "tcp", func(url string) *proc {
			return startPlexus(t, "sock", proto, "--listen", url, "--data", "from a", "-Q", "--interval", "50ms", "-C", "1000")
		}, "from b\x00\n", plexusBin(t), "sock", proto, "--dial", at, "--file", "-", "-Q", "--interval", "50ms", "-C", "3")
		if !strings.Contains(out, "\"from a\"\n") {
			t.Errorf("%s: b printed %q", proto, out)
		}
		if l := a.line(t); l != `"from b\x00\n"` {
			t.Errorf("%s: a printed %q", proto, l)
		}
	}
}

// TestSockErrors: bad command lines are refused with a clear message and
// status 2, before anything is opened; failures at run time are status 1.
func TestSockErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dial", "tcp://127.0.0.1:1"}, "no protocol given: one of --req0, --rep0"},
		{[]string{"--req0", "--data", "x"}, "no address given"},
		{[]string{"--req0", "--rep0"}, "only one protocol may be given"},
		{[]string{"--pair1", "--dial", "tcp://127.0.0.1:1"}, "--pair1: not supported: plexus has pair v0"},
		{[]string{"--sub0", "--dial", "mesh://echo"}, "mesh:// URLs need a mesh to join: --join HOST:PORT"},
		{[]string{"--sub0", "--dial", "mesh://echo", "--join", "127.0.0.1:1"}, "no TLS: give --cert, --key and --ca"},
		{[]string{"--sub0", "--dial", "tcp://127.0.0.1:1", "--join", "127.0.0.1:1"}, "are for mesh:// URLs"},
		{[]string{"--sub0", "--dial", "mesh://echo", "--join", "nowhere", "--insecure"}, `--join "nowhere": want HOST:PORT`},
		{[]string{"--sub0", "--dial", "inproc://x"}, "inproc:// reaches sockets of the same process only"},
		{[]string{"--req0", "--dial", "bogus://x", "--data", "x"}, `unknown URL scheme "bogus" (known: inproc, ipc, mesh, tcp, tls+tcp, ws)`},
		{[]string{"--rep0", "--listen", "tls+tcp://127.0.0.1:0"}, "needs --cert"},
		{[]string{"--push0", "--dial", "tcp://127.0.0.1:1"}, "--push0 needs --data or --file"},
		{[]string{"--pub0", "--dial", "tcp://127.0.0.1:1", "--data", "x", "-Q"}, "--pub0 does not receive: no --format"},
		{[]string{"--pull0", "--dial", "tcp://127.0.0.1:1", "--data", "x"}, "--pull0 does not send"},
		{[]string{"--sub0", "--dial", "tcp://127.0.0.1:1", "--interval", "1"}, "--sub0 does not send: no --interval"},
		{[]string{"--req0", "--dial", "tcp://127.0.0.1:1", "--data", "x", "--subscribe", "a"}, "--subscribe is for --sub0 only"},
		{[]string{"--rep0", "--dial", "tcp://127.0.0.1:1", "--interval", "1"}, "--rep0 answers"},
		{[]string{"--pair0", "--dial", "tcp://127.0.0.1:1", "--interval", "1"}, "--interval needs --data or --file"},
		{[]string{"--push0", "--dial", "tcp://127.0.0.1:1", "--data", "x", "--interval", "0"}, "without end"},
		{[]string{"--sub0", "-Q", "-A"}, "the format may be given only once"},
		{[]string{"--push0", "--data", "x", "--file", "y"}, "may be given only once"},
		{[]string{"--sub0", "--format", "json"}, "unknown format: want no, raw, ascii, quoted, hex or msgpack"},
		{[]string{"--sub0", "--interval", "soon"}, "neither whole seconds nor a duration"},
		{[]string{"--sub0", "-L", "70000"}, "not a port"},
		{[]string{"--sub0", "--async"}, "--async: not supported by plexus sock"},
		{[]string{"--sub0", "--dial", "tcp://127.0.0.1:1", "stray"}, `unexpected argument "stray"`},
	} {
		r := runIn(append([]string{"sock"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plexus sock %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--req0", "--dial", "tcp://127.0.0.1:1", "--data", "x"}, "dialing tcp://127.0.0.1:1"},
		{[]string{"--push0", "--listen", "tcp://127.0.0.1:0", "--data", "x", "--send-timeout", "200ms"}, "send: no peer to send to within 200ms"},
		{[]string{"--push0", "--dial", "tcp://127.0.0.1:1", "--file", "/nonexistent"}, "--file: open /nonexistent"},
		{[]string{"--req0", "--dial", "tls+tcp://127.0.0.1:1", "--data", "x", "--cacert", "/nonexistent"}, "--cacert: open /nonexistent"},
	} {
		r := runIn(append([]string{"sock"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plexus sock %s: exit %d, %q; want 1 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}

	// The errors themselves.
	o := &sockOptions{cmd: sockCommand()}
	fs := o.flags()
	if err := fs.parse([]string{"--req0", "--dial", "mesh://billing", "--data", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := o.check(); !errors.Is(err, errMeshURL) || !errors.Is(err, errUsage) {
		t.Errorf("mesh:// URL: %v", err)
	}
	o = &sockOptions{cmd: sockCommand()}
	if err := o.flags().parse([]string{"--req0", "--dial", "bogus://x", "--data", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := o.check(); !errors.Is(err, transport.ErrUnknownScheme) || !errors.Is(err, errUsage) {
		t.Errorf("bogus:// URL: %v", err)
	}
}

// TestSockShortForms: nngcat's short and legacy forms work: -L/-l ports,
// --bind/--connect, -D, -C, -A.
func TestSockShortForms(t *testing.T) {
	pull, _, _ := onFreeURL(t, "tcp", func(url string) *proc {
		return startPlexus(t, "sock", "--pull", "-L", port(url), "-A", "-C", "1")
	}, "", plexusBin(t), "sock", "--push", "-l", atPort, "-D", "short")
	if code, out := pull.wait(t); code != 0 || out != "short" {
		t.Errorf("-L/-l: exit %d, %q", code, out)
	}
	pull, _, _ = onFreeURL(t, "tcp", func(url string) *proc {
		return startPlexus(t, "sock", "--pull0", "--bind", url, "--ascii", "--count", "1")
	}, "", plexusBin(t), "sock", "--push0", "--connect", at, "--data", "legacy")
	if code, out := pull.wait(t); code != 0 || out != "legacy" {
		t.Errorf("--bind/--connect: exit %d, %q", code, out)
	}
	// -Z: a message over the limit closes its pipe; nothing is printed and
	// the receive times out.
	pull, _, _ = onFreeURL(t, "tcp", func(url string) *proc {
		return startPlexus(t, "sock", "--pull0", "--listen", url, "-A", "-Z", "4", "--recv-timeout", "1500ms")
	}, "", plexusBin(t), "sock", "--push0", "--dial", at, "--data", "too long", "--send-timeout", "1")
	if code, out := pull.wait(t); code != 0 || out != "" {
		t.Errorf("-Z 4: exit %d, %q", code, out)
	}
}
